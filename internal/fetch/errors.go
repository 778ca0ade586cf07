package fetch

import "errors"

// ErrInvalidOptions means [New] was given options it cannot honour. Every
// Fetch of that fetcher fails with it, before any request. The errors of a
// request are those of package mirror.
var ErrInvalidOptions = errors.New("invalid fetch options")
