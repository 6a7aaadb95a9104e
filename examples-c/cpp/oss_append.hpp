// A thin C++17 wrapper over oss_append.h: RAII ownership and exceptions. Header-only; copy
// it into a project or include it from here.
#pragma once

#include "oss_append.h"

#include <chrono>
#include <cstdint>
#include <ctime>
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
// Runs one C call that follows the library's convention, throwing on failure.
template <typename Call> void check(Call call) {
    oss_error *err = nullptr;
    oss_status status = call(&err);
    if (status != OSS_OK) throw Error(status, err);
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

    std::uint64_t position() const {
        std::uint64_t out = 0;
        detail::check([&](oss_error **e) { return oss_append_position(handle_.get(), &out, e); });
        return out;
    }

    std::uint64_t crc64() const {
        std::uint64_t out = 0;
        detail::check([&](oss_error **e) { return oss_append_crc64(handle_.get(), &out, e); });
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

    // On success the handle is gone; on failure it stays, and the exception says why.
    void close() {
        detail::check([&](oss_error **e) { return oss_append_close(handle_.get(), e); });
        handle_.release();
    }

private:
    AppendPtr handle_;
};

} // namespace oss
