// Package reload keeps a long-running command's configuration current while
// it runs. A Holder hands out the last good campaigns.Config and
// templates.Set; Reload loads them again and swaps them in only when the
// load succeeds, so an edit with a mistake is logged with every problem and
// the previous configuration keeps running. Watch reloads on SIGHUP and when
// the files under the configuration and templates folders change.
//
// Files are watched by polling rather than with inotify (fsnotify): every
// Interval the folders are walked and their contents hashed. That works the
// same on every file system — bind mounts, NFS, Kubernetes ConfigMaps, whose
// files are symlinks swapped by a rename — needs no per-folder watches to
// add as folders appear, and the hash makes a save that changes nothing (or
// only an editor's swap file) cost no reload. The folders hold a few dozen
// small files, so hashing them every second costs next to nothing.
package reload
