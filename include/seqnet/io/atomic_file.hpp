#pragma once
/// \file
/// Atomic file replacement and whole-file reading for seqnet's files (POSIX).
///
/// write_file_atomic(path, bytes): a temporary "<path>.tmp.<pid>.<n>" in the same folder (created with
/// O_EXCL, so concurrent writers never share one), written in full, fsync'ed and closed, renamed over
/// `path`, then the folder fsync'ed. rename() replaces the target in one step, so a reader or a process
/// killed at any point sees either the old file or the complete new one. A process killed before the
/// rename leaves its temporary behind (never the target half-written); such stale temporaries are safe to
/// delete.

#include "seqnet/core/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace seqnet {
namespace detail {

inline std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

/// The folder holding `path` ("." for a bare file name).
inline std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// Replaces `path` by `bytes` atomically: temporary in the same folder, write, fsync, close, rename over the
/// target, fsync the folder. On failure the temporary is removed and IoError names the path and the cause.
inline void write_file_atomic(const std::string& path, std::string_view bytes) {
  if (path.empty()) throw IoError("save: empty path");
  const std::string prefix = path + ".tmp." + std::to_string(static_cast<long long>(::getpid())) + ".";
  std::string tmp;
  int fd = -1;
  // A stale temporary of a killed process with the same pid may exist: O_EXCL skips it.
  for (int attempt = 0; attempt < 1000 && fd < 0; ++attempt) {
    tmp = prefix + std::to_string(attempt);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
      throw IoError("cannot save '" + path + "': cannot create temporary file '" + tmp + "': " + errno_text(errno));
  }
  if (fd < 0) throw IoError("cannot save '" + path + "': no free temporary file name '" + prefix + "N'");
  auto fail = [&](const std::string& what, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError("cannot save '" + path + "': " + what + ": " + errno_text(err));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing '" + tmp + "'", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("flushing '" + tmp + "' to disk", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("closing '" + tmp + "'", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming '" + tmp + "' over it", errno);
  // The rename is durable only once the folder entry is on disk.
  const std::string folder = parent_folder(path);
  const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw IoError("saved '" + path + "' but cannot open its folder to flush it: " + errno_text(errno));
  const int synced = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (synced != 0 && err != EINVAL && err != ENOTSUP)  // some file systems cannot fsync a folder
    throw IoError("saved '" + path + "' but flushing its folder failed: " + errno_text(err));
}

/// The whole content of a file, or IoError naming the path and the cause.
inline std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open '" + path + "': " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError("cannot read '" + path + "': " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read '" + path + "': not a regular file");
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, &out[done], out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw IoError("cannot read '" + path + "': " + errno_text(err));
    }
    if (n == 0) break;  // the file shrank while reading: what was read is checked as a truncated file
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  ::close(fd);
  return out;
}

}  // namespace detail
}  // namespace seqnet
