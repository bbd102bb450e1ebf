package signoff

import "sync"

// seen remembers the last n ids, to skip deliveries already handled.
type seenSet struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string
	n     int
}

func newSeen(n int) *seenSet { return &seenSet{ids: map[string]struct{}{}, n: n} }

// add records id and reports whether it was new.
func (s *seenSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	s.ids[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > s.n {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	return true
}
