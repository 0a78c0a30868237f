package delivery

// The send stage claims its rows in chunks of claimChunk and sends them
// over SendConcurrency goroutines; the worker's settler writes the outcomes
// of all its batches in groups of settleEvery (or every settleAfter,
// whichever comes first). So at any moment a batch holds at most
// claimChunk rows claimed but not yet handed to a provider and
// SendConcurrency rows in a provider's hands, and the worker at most two
// groups of outcomes not yet written (one filling, one being written):
// what a SIGKILL can leave "sending".
const (
	claimChunk  = 100
	settleEvery = 100
)

// SendConcurrency is how many of a batch's claims are sent at once. A
// failure that stops the batch (refused credentials, the circuit breaker)
// stops the claims not yet sent; the sends already in flight finish.
const SendConcurrency = 8

// UnsettledBound is the most ledger rows a worker of the given concurrency
// (batches at once) can leave "sending" when it is killed: its batches'
// claimed and in-flight rows, and its outcomes not yet written. The
// batches' next attempts report them unknown once they are older than
// sending_timeout.
func UnsettledBound(concurrency int) int {
	return concurrency*(claimChunk+SendConcurrency) + 2*settleEvery
}
