//go:build !unix

package selfupdate

import "io/fs"

// unsafeMode says why a directory is not safe to stage builds in. Windows
// has no owner and mode bits to check here: access lists govern it, and a
// directory beside the executable inherits the executable's directory's.
func unsafeMode(fs.FileInfo) string { return "" }
