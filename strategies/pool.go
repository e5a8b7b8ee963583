package strategies

import (
	"context"
	"sync"
)

// workerPool calls work for each job on n workers fed by the calling
// goroutine: a fixed pool, never a goroutine per job. It stops feeding when
// ctx ends and returns when every worker has finished; a worker leaves
// early when work returns false (which it does only once ctx has ended).
func workerPool(ctx context.Context, n int, jobs []*Job, work func(*Job) bool) {
	feed := make(chan *Job)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			for j := range feed {
				if !work(j) {
					return
				}
			}
		}()
	}
feeding:
	for _, j := range jobs {
		select {
		case feed <- j:
		case <-ctx.Done():
			break feeding
		}
	}
	close(feed)
	wg.Wait()
}
