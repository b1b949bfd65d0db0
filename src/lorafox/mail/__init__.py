"""Mail: one durable, retried, rate-limited outbox for every mail lorafox sends.

``outbox`` (``Mailer``: the outbox and its sender), ``smtp`` (``SmtpTransport``: aiosmtplib).
"""

from lorafox.mail.outbox import Mailer, Sending
from lorafox.mail.smtp import SmtpServer, SmtpTransport

__all__ = ["Mailer", "Sending", "SmtpServer", "SmtpTransport"]
