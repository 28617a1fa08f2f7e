// What FileIO needs from glibc that Swift's Glibc module leaves out (it is built without
// _GNU_SOURCE): close-on-exec pipes, closing every inherited descriptor in a spawned child, and
// starting a file's writeback without waiting for it.
// The header includes no system header, so this module declares none of glibc's types (they
// stay Glibc's, and Swift does not see two owners of `struct stat` or `timespec`).
#ifndef POSTOFFICE_CFILEIO_H
#define POSTOFFICE_CFILEIO_H

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so no concurrent spawn can
/// inherit them.
int postoffice_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34) on a `posix_spawn_file_actions_t *`:
/// the child closes every descriptor from `lowest` up before it runs the program.
int postoffice_spawn_add_closefrom(void *actions, int lowest);

/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) on Linux: starts writing the file's dirty
/// pages to the disk and returns without waiting; 0 elsewhere (nothing to do). Not a durability
/// step: fsync still is.
int postoffice_start_writeback(int fd);

#endif
