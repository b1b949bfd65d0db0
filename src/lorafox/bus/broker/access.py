"""Who a client is and what it may do: the broker's side of access control.

The broker knows an ``Identity`` per connection (from its authenticator) and asks an
``AccessPolicy`` whether it may publish to a topic or subscribe to a filter. Every message
carries an *audience* (``lorafox.bus.broker.message.Audience``): the group paths whose
subtrees may receive it. A client whose ``reads`` is None receives everything; any other
receives a message only when one of the audience's paths lies in one of its ``reads`` subtrees
(a path is a prefix of the paths below it). A message without an audience reaches only
clients that read everything. What a client publishes carries the audience the policy gives
its identity; what lorafox publishes carries the one the policy derives from the topic.

No client may publish to a topic starting with ``$`` (reserved for the broker), whatever the
policy says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lorafox.bus.broker.message import Audience

__all__ = ["ANONYMOUS", "AccessPolicy", "Identity", "OpenAccess", "may_receive"]


@dataclass(slots=True, frozen=True)
class Identity:
    """A logged-in client (or the anonymous one): ``name`` owns the sessions it makes."""

    name: str
    reads: tuple[str, ...] | None = None
    """Group paths whose subtrees' messages it receives; None: every message."""
    principal: object | None = None
    """What the policy and the in-process handlers know about it (lorafox: a ``Principal``)."""


ANONYMOUS = Identity("")
"""A client without a login, when anonymous clients are allowed: it reads everything."""


def may_receive(identity: Identity, audience: Audience) -> bool:
    reads = identity.reads
    if reads is None:
        return True
    if audience is None:
        return False
    return any(path.startswith(root) for path in audience for root in reads)


class AccessPolicy(Protocol):
    """Topic permissions; every method is called on the broker's event loop and must not block."""

    def may_publish(self, identity: Identity, topic: str) -> bool:
        """May ``identity`` publish to ``topic``? (False: the message is dropped and logged.)"""
        ...

    def may_subscribe(self, identity: Identity, topic_filter: str) -> bool:
        """May ``identity`` subscribe to ``topic_filter``? (False: SUBACK 0x80.)"""
        ...

    def audience_of_client(self, identity: Identity) -> Audience:
        """The audience of what ``identity`` publishes (its will included)."""
        ...


class OpenAccess:
    """Every client may publish and subscribe anywhere (outside ``$`` topics)."""

    def may_publish(self, identity: Identity, topic: str) -> bool:
        return True

    def may_subscribe(self, identity: Identity, topic_filter: str) -> bool:
        return True

    def audience_of_client(self, identity: Identity) -> Audience:
        return identity.reads
