"""MD2 (RFC 1319), for the ``md2()`` function of AWS IoT SQL.

OpenSSL no longer ships MD2, so ``hashlib`` cannot give it. MD2 is broken as a hash: lorafox
offers it only because AWS IoT SQL has it. The substitution table is the RFC's "random"
permutation of 0..255, rebuilt here the way its author describes making it: a Durstenfeld
shuffle driven by the decimal digits of pi (computed with Machin's formula), so no 256-byte
table has to be trusted by eye; the RFC's test vectors check the result.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["md2"]

_BLOCK = 16
_ROUNDS = 18
_PI_DIGITS = 1000
"""More than the shuffle consumes (it rejects a draw now and then)."""


def _pi_digits(count: int) -> Iterator[int]:
    """The first ``count`` decimal digits of pi (3, 1, 4, 1, 5, …), with integers only."""
    scale = 10 ** (count + 10)

    def arctan_of_inverse(x: int) -> int:
        total: int = scale // x
        term = total
        square = x * x
        k, sign = 1, -1
        while term:
            term //= square
            total += sign * (term // (2 * k + 1))
            sign, k = -sign, k + 1
        return total

    pi = 16 * arctan_of_inverse(5) - 4 * arctan_of_inverse(239)
    return (int(digit) for digit in str(pi)[:count])


def _permutation() -> bytes:
    digits = _pi_digits(_PI_DIGITS)

    def draw(n: int) -> int:
        # One, two or three digits, as many as n needs; a draw that would bias the result
        # (beyond the largest multiple of n) is thrown away.
        while True:
            value, span = next(digits), 10
            if n > 10:
                value, span = value * 10 + next(digits), 100
            if n > 100:
                value, span = value * 10 + next(digits), 1000
            if value < n * (span // n):
                return value % n

    table = list(range(256))
    for size in range(2, 257):
        j = draw(size)
        table[j], table[size - 1] = table[size - 1], table[j]
    return bytes(table)


_S = _permutation()


def md2(data: bytes) -> bytes:
    """The 16-byte MD2 digest of ``data``."""
    table = _S
    pad = _BLOCK - len(data) % _BLOCK
    message = data + bytes([pad]) * pad
    checksum = [0] * _BLOCK
    last = 0
    for start in range(0, len(message), _BLOCK):
        for j in range(_BLOCK):
            last = checksum[j] = checksum[j] ^ table[message[start + j] ^ last]
    message += bytes(checksum)

    state = [0] * (3 * _BLOCK)
    width = range(3 * _BLOCK)
    for start in range(0, len(message), _BLOCK):
        block = message[start : start + _BLOCK]
        state[_BLOCK : 2 * _BLOCK] = block
        state[2 * _BLOCK :] = [b ^ s for b, s in zip(block, state[:_BLOCK], strict=True)]
        t = 0
        for round_ in range(_ROUNDS):
            for k in width:
                t = state[k] = state[k] ^ table[t]
            t = (t + round_) & 0xFF
    return bytes(state[:_BLOCK])
