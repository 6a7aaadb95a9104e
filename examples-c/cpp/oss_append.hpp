// A thin C++17 wrapper over oss_append.h: RAII ownership and exceptions. Header-only; copy
// it into a project or include it from here.
#pragma once

#include "oss_append.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

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
} // namespace detail

using ConfigPtr = std::unique_ptr<oss_config, detail::ConfigFree>;
using ClientPtr = std::unique_ptr<oss_client, detail::ClientFree>;
using OptionsPtr = std::unique_ptr<oss_append_options, detail::OptionsFree>;
using AppendPtr = std::unique_ptr<oss_append, detail::AppendFree>;

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
