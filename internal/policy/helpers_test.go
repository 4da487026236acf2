package policy

import "time"

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
