// Package channels will hold the channel interface, the message and error
// types, and one subpackage per delivery channel (email over SMTP, SMS
// through Twilio, a file outbox for the demo). It is built with the delivery
// pipeline; campaigns name channels as "email" and "sms" today.
package channels
