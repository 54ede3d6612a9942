#!/usr/bin/env python3
"""A small file system that fails like a dying disk: EIO instead of ENOSPC.

    failing_fs.py LIMIT MOUNTPOINT COMMAND [ARG...]

Mounts at MOUNTPOINT (FUSE, through fusepy and libfuse2; as root libfuse mounts directly) a
pass-through to a fresh temporary directory whose files together may hold LIMIT bytes,
counted in 4 KiB blocks as a tmpfs of that size counts its pages. A write that would go
past the limit writes what fits, so the caller sees a short write at a block boundary,
and the next write fails with EIO; fsync fails with EIO too until room is made again
(a file removed or cut shorter). Then it runs COMMAND, unmounts, removes the temporary
directory and exits with COMMAND's status: the file system never outlives its user.
"""
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from fuse import FUSE, FuseOSError, Operations

BLOCK = 4096


def blocks(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


class FailingFS(Operations):
    def __init__(self, backing, limit, mountpoint, command):
        self.backing = backing
        self.limit = limit
        self.mountpoint = mountpoint
        self.command = command
        self.status = 1
        # A write was refused and nothing freed since: a sync now cannot succeed either.
        self.refused = False

    def real(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def used_by_others(self, path):
        real = self.real(path)
        return sum(blocks(e.stat().st_size) for e in os.scandir(self.backing) if e.is_file() and e.path != real)

    # The mount is up once the kernel's INIT arrives: only then may COMMAND use it.
    def init(self, path):
        threading.Thread(target=self.run_command, daemon=True).start()

    def run_command(self):
        try:
            self.status = subprocess.run(self.command).returncode
        finally:
            # Unmounting ends the FUSE loop, so FUSE() below returns.
            if subprocess.run(["umount", self.mountpoint]).returncode != 0:
                subprocess.run(["umount", "-l", self.mountpoint])

    def getattr(self, path, fh=None):
        st = os.fstat(fh) if fh is not None else os.lstat(self.real(path))
        return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self.real(path))

    def statfs(self, path):
        return {"f_bsize": BLOCK, "f_frsize": BLOCK, "f_blocks": self.limit // BLOCK,
                "f_bfree": (self.limit - self.used_by_others("")) // BLOCK, "f_namemax": 255}

    def open(self, path, flags):
        # The kernel places O_APPEND writes at the end itself: pwrite must keep its offset.
        return os.open(self.real(path), flags & ~os.O_APPEND)

    def create(self, path, mode, fi=None):
        return os.open(self.real(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        room = self.limit - self.used_by_others(path) - offset
        if room <= 0:
            self.refused = True
            raise FuseOSError(errno.EIO)
        return os.pwrite(fh, data[:room], offset)

    def truncate(self, path, length, fh=None):
        if length > self.limit - self.used_by_others(path):
            self.refused = True
            raise FuseOSError(errno.EIO)
        if fh is not None:
            before = os.fstat(fh).st_size
            os.ftruncate(fh, length)
        else:
            before = os.stat(self.real(path)).st_size
            os.truncate(self.real(path), length)
        if blocks(length) < blocks(before):
            self.refused = False

    def unlink(self, path):
        os.unlink(self.real(path))
        self.refused = False

    def fsync(self, path, datasync, fh):
        if self.refused:
            raise FuseOSError(errno.EIO)
        os.fdatasync(fh) if datasync else os.fsync(fh)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: failing_fs.py LIMIT MOUNTPOINT COMMAND [ARG...]")
    limit, mountpoint, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    backing = tempfile.mkdtemp(prefix="tickline-failing-fs-")
    fs = FailingFS(backing, limit, mountpoint, command)
    try:
        # One thread: requests are served in order, so the accounting needs no lock.
        FUSE(fs, mountpoint, foreground=True, nothreads=True, fsname="failing_fs")
    except RuntimeError as error:
        print(f"failing_fs: cannot mount {mountpoint}: {error}", file=sys.stderr)
    finally:
        shutil.rmtree(backing, ignore_errors=True)
    sys.exit(fs.status)


if __name__ == "__main__":
    main()
