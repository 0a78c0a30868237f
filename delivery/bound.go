package delivery

// The send stage claims its rows in chunks of claimChunk, sends them over
// SendConcurrency goroutines, and settles their outcomes in groups of
// settleEvery (or every settleAfter, whichever comes first). So at any
// moment a batch holds at most claimChunk rows claimed but not yet handed
// to a provider, SendConcurrency rows in a provider's hands, and
// settleEvery outcomes not yet written: what a SIGKILL can leave "sending".
const (
	claimChunk  = 100
	settleEvery = 100
)

// SendConcurrency is how many of a batch's claims are sent at once. A
// failure that stops the batch (refused credentials, the circuit breaker)
// stops the claims not yet sent; the sends already in flight finish.
const SendConcurrency = 8

// UnsettledBound is the most ledger rows a worker of the given concurrency
// (batches at once) can leave "sending" when it is killed: each of its
// batches' claimed, in-flight and not yet flushed rows. The batch's next
// attempt reports them unknown once they are older than sending_timeout.
func UnsettledBound(concurrency int) int {
	return concurrency * (claimChunk + SendConcurrency + settleEvery)
}
