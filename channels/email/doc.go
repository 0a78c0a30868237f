// Package email is the SMTP channel: it renders a channels.Message as a
// MIME message with github.com/wneessen/go-mail and submits it to one SMTP
// server (a relay such as Postfix, Amazon SES or SendGrid; a local catcher
// such as Mailpit in development).
//
// # Messages
//
// A message is multipart/alternative with a text/plain and a text/html part
// in UTF-8, quoted-printable (text/plain alone when there is no HTML). Its
// Message-ID is derived from the delivery id, so a retried delivery carries
// the same id and the provider id recorded in the ledger is the Message-ID.
// When the message has an unsubscribe URL it gets RFC 8058 one-click
// unsubscribe headers:
//
//	List-Unsubscribe: <https://…>, <mailto:unsubscribe@from-domain?subject=unsubscribe-ID>
//	List-Unsubscribe-Post: List-Unsubscribe=One-Click
//
// Values that come from customers (name, address, subject, bodies) never
// add or alter a header: line breaks and other control characters in header
// text become spaces, non-ASCII text is RFC 2047-encoded by go-mail, a name
// or subject holding "=?" is B-encoded whole so that no client decodes the
// customer's text as an encoded word of its own (see SetAddress), an
// unsubscribe URL is percent-encoded down to characters that cannot leave
// its angle brackets, and an address that is not a plain addr-spec is
// refused before the server is contacted. With Config.DKIM set, every
// message is signed (relaxed/relaxed) over its From, To, Subject, Date,
// Message-ID, Reply-To, MIME and List-Unsubscribe headers, as RFC 8058
// requires for one-click unsubscribe.
//
// # Connections
//
// A Sender keeps up to Config.MaxConnections SMTP connections and sends many
// messages over each (Config.MaxPerConnection, then QUIT and reconnect).
// Concurrent calls to Send share them; a caller waits for a free connection
// rather than opening more. An idle connection the server has meanwhile
// closed (or answers with 421) fails on MAIL FROM, before any of the message
// is sent, and is replaced transparently by a new one; a connection idle for
// more than a minute is closed instead of reused, since a NAT gateway may
// have dropped it without a word.
//
// The SMTP transaction is driven directly on go-mail's smtp.Client rather
// than through mail.Client.Send, because Send reports failures as a
// *mail.SendError that keeps the reply code (ErrorCode, EnhancedStatusCode)
// but not the underlying error, so a timeout, a cancelled context and a
// dropped connection look alike, and it adds NOOP, NOOP and RSET round trips
// around every message.
//
// # Errors
//
// Every error Send returns is a *channels.Error:
//
//   - an invalid recipient address: permanent, channels.ReasonInvalidAddress,
//     without contacting the server;
//   - connection, TLS and greeting failures and any 4xx reply (421, 450, 451,
//     452…): retryable, channels.ReasonUnavailable, with no retry-after (the
//     pipeline backs off);
//   - authentication refused (535, or no usable mechanism): permanent,
//     channels.ReasonAuth;
//   - the recipient does not exist (5.1.0, 5.1.1, 5.1.2, 5.1.10, or a bare
//     550, 551 or 553 to RCPT TO): permanent, ReasonNoSuchUser, which the
//     pipeline turns into a suppression;
//   - any other 5xx, or a non-ASCII address for a server without SMTPUTF8:
//     permanent, channels.ReasonRejected;
//   - the connection lost or timed out after the whole message was sent but
//     before the server's final reply: channels.Ambiguous, since the server
//     may have accepted it. Before that point it is retryable.
//
// The wrapped error names the command and the server's reply, for example
// "smtp RCPT TO:<x@example.com>: 550 5.1.1 no such user".
//
// Config.Timeout bounds each step: connecting, each command of the
// handshake and transaction, writing the message, and the wait for the
// final reply to it.
package email
