// Package scheduler will register a cron entry per enabled campaign in its
// time zone and enqueue each occurrence once, across any number of replicas.
// It is built after the delivery pipeline.
package scheduler
