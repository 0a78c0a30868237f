// Package syncbuf is a bytes.Buffer that goroutines may write while a test
// reads it: a command's output, a worker's log.
package syncbuf
