"""``SmtpTransport``: hands a mail to an SMTP server with aiosmtplib (STARTTLS, TLS or plain;
a login when configured). The password is read only to log in; it is never logged."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from lorafox.domain import QueuedMail
from lorafox.errors import NotificationError

__all__ = ["SmtpServer", "SmtpTransport", "message_of"]


@dataclass(slots=True, frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str = "starttls"
    """``starttls``, ``tls`` or ``none``."""
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None
    """Verifies the server (default: the system's trusted certificates)."""

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"SmtpServer({self.host}:{self.port}, {self.security})"


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def message_of(sender: str, mail: QueuedMail) -> EmailMessage:
    """The mail as sent: plain text, one line of subject."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(r.strip() for r in mail.recipient.split(",") if r.strip())
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "lorafox")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


class SmtpTransport:
    """Implements ``lorafox.ports.mail.MailTransport``."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def send(self, sender: str, mail: QueuedMail) -> None:
        s = self._server
        try:
            message = message_of(sender, mail)
        except (ValueError, TypeError) as exc:  # an address the mail library cannot write
            why = f"the mail cannot be written: {exc}"[:500]
            raise NotificationError(why, permanent=True) from exc
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout,
                tls_context=s.tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise NotificationError(f"recipients refused: {exc}"[:500], permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600 and not isinstance(
                exc, aiosmtplib.SMTPAuthenticationError
            )
            raise NotificationError(
                f"SMTP {exc.code}: {exc.message}"[:500], permanent=permanent
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise NotificationError(f"{type(exc).__name__}: {exc}"[:500]) from exc
