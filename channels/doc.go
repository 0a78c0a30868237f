// Package channels holds what every delivery channel shares: the Message a
// channel sends, the Sender interface, and Error, which classifies a failure
// as permanent, retryable (with an optional wait) or ambiguous. Each channel
// lives in its own subpackage: outbox (files, for the demo and tests); email
// over SMTP and SMS through Twilio follow.
//
// The batch handler translates an Error into an Asynq outcome in one place;
// adapters only classify.
package channels
