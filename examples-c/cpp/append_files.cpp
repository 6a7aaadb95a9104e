// append_files: append files, in order, to an OSS appendable object, from C++17.
//
//   append_files [--seal] [--drain DIR] oss://BUCKET/KEY FILE...
//
// With --seal the object is sealed after the last file: it then takes no more appends.
// With --drain DIR, every object's spool that an earlier program left in DIR (a spooled
// appender's files, after a crash) is uploaded first.
// Endpoint and credentials from OSS_ENDPOINT, OSS_REGION, OSS_ACCESS_KEY_ID,
// OSS_ACCESS_KEY_SECRET and OSS_SESSION_TOKEN. Prints "oss://BUCKET/KEY length=N crc64=C"
// as the server reports them.
#include "oss_append.hpp"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>

int main(int argc, char **argv) {
    const bool seal = argc > 1 && std::string(argv[1]) == "--seal";
    if (seal) {
        argv++;
        argc--;
    }
    std::optional<std::string> drain;
    if (argc > 2 && std::string(argv[1]) == "--drain") {
        drain = argv[2];
        argv += 2;
        argc -= 2;
    }
    const std::string prefix = "oss://";
    std::string target = argc > 2 ? argv[1] : "";
    auto slash = target.find('/', prefix.size());
    if (target.rfind(prefix, 0) != 0 || slash == std::string::npos || slash == prefix.size() ||
        slash + 1 == target.size()) {
        std::cerr << "usage: append_files [--seal] [--drain DIR] oss://BUCKET/KEY FILE...\n";
        return 2;
    }
    const std::string bucket = target.substr(prefix.size(), slash - prefix.size());
    const std::string key = target.substr(slash + 1);
    const char *endpoint = std::getenv("OSS_ENDPOINT");
    const char *region = std::getenv("OSS_REGION");
    try {
        auto client = oss::make_client(endpoint ? endpoint : "",
                                       region ? std::optional<std::string>(region) : std::nullopt);
        if (drain) {
            oss::drain_spool(client.get(), *drain);
        }
        oss::Appender object(client.get(), bucket, key);
        for (int i = 2; i < argc; i++) {
            const auto written = object.write_file(argv[i]);
            std::cerr << argv[i] << ": " << written << " bytes\n";
        }
        if (seal) {
            object.seal();
        }
        const auto length = object.position();
        const auto crc = object.crc64();
        // Checked with the server (a HEAD), so that what is printed is what OSS holds. Only
        // once something is stored: empty files create no object.
        if (length > 0) {
            const oss::ObjectInfo info = object.stat();
            if (info.length != length || info.crc64 != crc) {
                std::cerr << "append_files: the server's length or CRC-64 differs from what was "
                             "appended\n";
                return 1;
            }
            if (info.sealed_time) {
                const std::time_t when = std::chrono::system_clock::to_time_t(*info.sealed_time);
                std::cerr << "sealed at " << std::put_time(std::gmtime(&when), "%Y-%m-%dT%H:%M:%SZ")
                          << "\n";
            }
        }
        object.close();
        std::cout << target << " length=" << length << " crc64=" << crc << "\n";
    } catch (const oss::Error &e) {
        std::cerr << "append_files: " << oss_status_str(e.status()) << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
