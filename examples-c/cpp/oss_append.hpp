// A thin C++17 wrapper over oss_append.h: RAII ownership and exceptions. Header-only; copy
// it into a project or include it from here.
#pragma once

#include "oss_append.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace oss {

// A failed call: the status, OSS's code and request id when the server answered.
class Error : public std::runtime_error {
public:
    explicit Error(oss_status status, oss_error *err)
        : std::runtime_error(err ? oss_error_message(err) : oss_status_str(status)),
          status_(status),
          code_(text(oss_error_code(err))),
          request_id_(text(oss_error_request_id(err))) {
        oss_error_free(err);
    }
    oss_status status() const noexcept { return status_; }
    const std::string &code() const noexcept { return code_; }
    const std::string &request_id() const noexcept { return request_id_; }

private:
    static std::string text(const char *s) { return s ? s : ""; }
    oss_status status_;
    std::string code_, request_id_;
};

namespace detail {
// What a callback threw during this thread's C call, kept for that call to throw: an
// exception must not unwind through C. Callbacks run on the calling thread (unbuffered).
inline std::exception_ptr &thrown_in_callback() {
    thread_local std::exception_ptr thrown;
    return thrown;
}

// Runs one C call that follows the library's convention, throwing on failure (with what a
// callback threw nested in the Error) or, once the call succeeded, what a callback threw.
template <typename Call> void check(Call call) {
    oss_error *err = nullptr;
    oss_status status = call(&err);
    const std::exception_ptr thrown = std::exchange(thrown_in_callback(), nullptr);
    if (status != OSS_OK) {
        if (!thrown) throw Error(status, err);
        try {
            std::rethrow_exception(thrown);
        } catch (...) {
            std::throw_with_nested(Error(status, err));
        }
    }
    if (thrown) std::rethrow_exception(thrown);
}

struct ConfigFree { void operator()(oss_config *p) const noexcept { oss_config_free(p); } };
struct ClientFree { void operator()(oss_client *p) const noexcept { oss_client_free(p); } };
struct OptionsFree {
    void operator()(oss_append_options *p) const noexcept { oss_append_options_free(p); }
};
struct AppendFree { void operator()(oss_append *p) const noexcept { oss_append_free(p); } };
struct ObjectInfoFree {
    void operator()(oss_object_info *p) const noexcept { oss_object_info_free(p); }
};
struct AppendResultFree {
    void operator()(oss_append_result *p) const noexcept { oss_append_result_free(p); }
};

// The library's strings are NULL when absent; the wrapper's are empty then.
inline std::string text(const char *s) { return s ? s : ""; }

// Seconds since 1970, -1 meaning absent.
inline std::optional<std::chrono::system_clock::time_point> time_at(std::int64_t seconds) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(seconds));
}
} // namespace detail

using ConfigPtr = std::unique_ptr<oss_config, detail::ConfigFree>;
using ClientPtr = std::unique_ptr<oss_client, detail::ClientFree>;
using OptionsPtr = std::unique_ptr<oss_append_options, detail::OptionsFree>;
using AppendPtr = std::unique_ptr<oss_append, detail::AppendFree>;
using ObjectInfoPtr = std::unique_ptr<oss_object_info, detail::ObjectInfoFree>;
using AppendResultPtr = std::unique_ptr<oss_append_result, detail::AppendResultFree>;

// Called once for each object a rolling stream finished, after its last append (and seal,
// with seal_on_close) landed: its key, and the length and CRC-64 the server confirmed. It runs
// on the writing thread, inside the call that finished the object (write, write_file, seal,
// close), which throws what it throws once done, or nests it in its Error should it fail.
// Buffered (oss_append_options_set_buffer through Options::get()), it runs on the upload
// thread, inside no call of the caller's: there what it throws is caught and dropped.
using RollCallback =
    std::function<void(const std::string &key, std::uint64_t length, std::uint64_t crc64)>;

namespace detail {
inline void on_roll(void *user_data, const char *key, std::uint64_t length,
                    std::uint64_t crc64) noexcept {
    try {
        (*static_cast<RollCallback *>(user_data))(key, length, crc64);
    } catch (...) {
        // The first is kept: one write may finish several objects.
        if (!thrown_in_callback()) thrown_in_callback() = std::current_exception();
    }
}
} // namespace detail

// Append options, owned. get() is for the C setters (oss_append_options_set_*) not wrapped
// here. Opening copies them, so they may be changed or reused for other appenders afterwards.
class Options {
public:
    Options() : handle_(oss_append_options_new()) {
        if (!handle_) throw Error(OSS_ERR_INTERNAL, nullptr);
    }

    oss_append_options *get() const noexcept { return handle_.get(); }

    // Rolling (oss_append_options_set_roll): the key is then a template holding "{n}" once,
    // and the stream goes on in the next numbered object before a write that would take the
    // current one past max_object_size, or once it was written to for max_age (0: no limit).
    // Buffered too (see RollCallback). A template without one "{n}" makes the Appender throw.
    Options &roll(std::uint64_t max_object_size,
                  std::chrono::milliseconds max_age = std::chrono::milliseconds::zero()) {
        if (max_age.count() < 0) {
            throw std::invalid_argument("oss::Options::roll: max_age is negative");
        }
        detail::check([&](oss_error **e) {
            return oss_append_options_set_roll(handle_.get(), max_object_size,
                                               static_cast<std::uint64_t>(max_age.count()), e);
        });
        return *this;
    }

    // Calls `callback` for each object a rolling stream finished (see RollCallback); an empty
    // one removes it. Appenders opened with these options share it and keep it alive.
    Options &on_roll(RollCallback callback) {
        auto held = callback ? std::make_shared<RollCallback>(std::move(callback)) : nullptr;
        detail::check([&](oss_error **e) {
            return oss_append_options_set_roll_callback(
                handle_.get(), held ? detail::on_roll : nullptr, held.get(), e);
        });
        on_roll_ = std::move(held);
        return *this;
    }

private:
    friend class Appender;
    OptionsPtr handle_;
    std::shared_ptr<RollCallback> on_roll_;
};

// An object as the server described it (Appender::stat): a copy of an oss_object_info's
// fields, so it outlives the C object. Strings are empty when the server sent none.
struct ObjectInfo {
    std::uint64_t length;
    std::optional<std::uint64_t> crc64;
    oss_object_type type;
    std::optional<std::chrono::system_clock::time_point> last_modified;
    std::optional<std::chrono::system_clock::time_point> sealed_time; // empty while not sealed
    std::string etag, content_type, version_id, request_id;
    // User metadata (x-oss-meta-*) in the server's order: names without the prefix,
    // lowercase as OSS stores them, a repeated name once per value.
    std::vector<std::pair<std::string, std::string>> metadata;

    explicit ObjectInfo(const oss_object_info *info)
        : length(oss_object_info_length(info)),
          type(oss_object_info_type(info)),
          last_modified(detail::time_at(oss_object_info_last_modified(info))),
          sealed_time(detail::time_at(oss_object_info_sealed_time(info))),
          etag(detail::text(oss_object_info_etag(info))),
          content_type(detail::text(oss_object_info_content_type(info))),
          version_id(detail::text(oss_object_info_version_id(info))),
          request_id(detail::text(oss_object_info_request_id(info))) {
        std::uint64_t crc = 0;
        if (oss_object_info_crc64(info, &crc)) crc64 = crc;
        const std::size_t count = oss_object_info_metadata_count(info);
        metadata.reserve(count);
        for (std::size_t i = 0; i < count; i++) {
            const char *name = nullptr, *value = nullptr;
            if (oss_object_info_metadata(info, i, &name, &value)) metadata.emplace_back(name, value);
        }
    }
};

// What one AppendObject returned (append_object): a copy of an oss_append_result's fields.
struct AppendResult {
    std::uint64_t next_position; // the object's length after the append
    std::uint64_t crc64;         // of the whole object after the append
    std::string etag, version_id, request_id;

    explicit AppendResult(const oss_append_result *result)
        : next_position(oss_append_result_next_position(result)),
          crc64(oss_append_result_crc64(result)),
          etag(detail::text(oss_append_result_etag(result))),
          version_id(detail::text(oss_append_result_version_id(result))),
          request_id(detail::text(oss_append_result_request_id(result))) {}
};

// A client for one endpoint, credentials from the environment; shareable across threads.
inline ClientPtr make_client(const std::string &endpoint, const std::optional<std::string> &region) {
    ConfigPtr config(oss_config_new());
    if (!config) throw Error(OSS_ERR_INTERNAL, nullptr);
    detail::check([&](oss_error **e) { return oss_config_set_endpoint(config.get(), endpoint.c_str(), e); });
    if (region) {
        detail::check([&](oss_error **e) { return oss_config_set_region(config.get(), region->c_str(), e); });
    }
    detail::check([&](oss_error **e) { return oss_config_set_credentials_from_env(config.get(), e); });
    oss_client *client = nullptr;
    detail::check([&](oss_error **e) { return oss_client_new(config.get(), &client, e); });
    return ClientPtr(client);
}

// One AppendObject request at an explicit position (0 creates the object with the
// options' create parameters; options may be null). Not retried when its outcome is
// unknown: the caller owns the position. With previous_crc, the object's CRC-64 before,
// the server's CRC-64 afterwards is checked.
inline AppendResult append_object(const oss_client *client, const std::string &bucket,
                                  const std::string &key, std::uint64_t position, const void *data,
                                  std::size_t len, const oss_append_options *options = nullptr,
                                  std::optional<std::uint64_t> previous_crc = std::nullopt) {
    oss_append_result *raw = nullptr;
    detail::check([&](oss_error **e) {
        return oss_append_object(client, bucket.c_str(), key.c_str(), position,
                                 static_cast<const std::uint8_t *>(data), len, options,
                                 previous_crc ? &*previous_crc : nullptr, &raw, e);
    });
    // Owned before anything that may throw (a string copy), so it is freed either way.
    const AppendResultPtr result(raw);
    return AppendResult(result.get());
}

// Uploads every object's spool left in dir by appenders that did not close (a crashed
// process), each settled with its object as opening it would (see
// oss_append_options_set_spool), then removes those spools; throws the first spool's error
// that could not be drained, after draining the others.
inline void drain_spool(const oss_client *client, const std::string &dir) {
    detail::check([&](oss_error **e) { return oss_spool_drain(client, dir.c_str(), e); });
}

// An open appendable object. Closing is explicit, so its error can be seen; if the
// object goes out of scope unclosed (an exception), it is released.
class Appender {
public:
    Appender(const oss_client *client, const std::string &bucket, const std::string &key,
             const oss_append_options *options = nullptr) {
        oss_append *raw = nullptr;
        detail::check([&](oss_error **e) {
            return oss_append_open(client, bucket.c_str(), key.c_str(), options, &raw, e);
        });
        handle_.reset(raw);
    }

    Appender(const oss_client *client, const std::string &bucket, const std::string &key,
             const Options &options)
        : Appender(client, bucket, key, options.get()) {
        on_roll_ = options.on_roll_;
    }

    void write(const void *data, std::size_t len) {
        detail::check([&](oss_error **e) {
            return oss_append_write(handle_.get(), static_cast<const std::uint8_t *>(data), len, e);
        });
    }
    void write(const std::string &text) { write(text.data(), text.size()); }

    std::uint64_t write_file(const std::string &path) {
        std::uint64_t written = 0;
        detail::check([&](oss_error **e) {
            return oss_append_write_file(handle_.get(), path.c_str(), &written, e);
        });
        return written;
    }

    // The object's length: for a rolling stream, the current object's.
    std::uint64_t position() const { return read(oss_append_position); }

    std::uint64_t crc64() const { return read(oss_append_crc64); }

    // The stream's length: position(), but for a rolling stream its objects' lengths in all.
    std::uint64_t stream_position() const { return read(oss_append_stream_position); }

    // The key of the object being written: the one given at open, or for a rolling stream
    // its current object's.
    std::string key() const {
        std::string out;
        std::size_t length = 0;
        // Asked again with room for the whole key until it fits (the first time, to learn its
        // length); the NUL goes into the string's own terminator.
        do {
            out.resize(length);
            detail::check([&](oss_error **e) {
                return oss_append_key(handle_.get(), out.data(), out.size() + 1, &length, e);
            });
        } while (length > out.size());
        out.resize(length);
        return out;
    }

    // Asks the server (a HEAD) for the object's state. Throws with OSS_ERR_NO_SUCH_KEY
    // while nothing was written.
    ObjectInfo stat() const {
        oss_object_info *raw = nullptr;
        detail::check([&](oss_error **e) { return oss_append_stat(handle_.get(), &raw, e); });
        const ObjectInfoPtr info(raw);
        return ObjectInfo(info.get());
    }

    // Seals the object at this position (flushing a buffered appender first): it takes no
    // more appends. Throws with OSS_ERR_CONFLICT if another writer changed its length.
    void seal() {
        detail::check([&](oss_error **e) { return oss_append_seal(handle_.get(), e); });
    }

    // On success the handle is gone (even should a roll callback throw, with seal_on_close);
    // on failure it stays, and the exception says why.
    void close() {
        detail::check([&](oss_error **e) {
            const oss_status status = oss_append_close(handle_.get(), e);
            if (status == OSS_OK) handle_.release();
            return status;
        });
    }

private:
    template <typename Getter> std::uint64_t read(Getter getter) const {
        std::uint64_t out = 0;
        detail::check([&](oss_error **e) { return getter(handle_.get(), &out, e); });
        return out;
    }

    // Declared before handle_, so the callback outlives the C appender that may call it.
    std::shared_ptr<RollCallback> on_roll_;
    AppendPtr handle_;
};

} // namespace oss
