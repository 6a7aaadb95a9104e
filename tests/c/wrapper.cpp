/*
 * The C++ wrapper (examples-c/cpp/oss_append.hpp) against the local server: wrapper ENDPOINT
 * BUCKET, credentials from the environment. Rolls streams under "wrapper/", whose objects
 * tests/c_abi.rs checks afterwards (and scripts the faults for); exits 0 when every check
 * here passed.
 */
#include "oss_append.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>
#include "check.h"

namespace {

struct Finished {
    std::string key;
    std::uint64_t length, crc64;
};

// The pattern tests/c_abi.rs expects: byte i of a run seeded s is (i * 7 + s) % 251.
std::vector<std::uint8_t> pattern(std::size_t len, unsigned seed) {
    std::vector<std::uint8_t> out(len);
    for (std::size_t i = 0; i < len; i++) out[i] = static_cast<std::uint8_t>((i * 7 + seed) % 251);
    return out;
}

std::uint64_t crc_of(const std::uint8_t *data, std::size_t len) {
    std::uint64_t crc = 0;
    EXPECT(OSS_OK, oss_crc64_update(&crc, data, len, &err));
    return crc;
}

oss::Options rolling(std::uint64_t size, std::chrono::milliseconds age,
                     std::vector<Finished> &finished) {
    oss::Options options;
    options.roll(size, age).on_roll([&finished](const std::string &key, std::uint64_t length,
                                                std::uint64_t crc64) {
        finished.push_back({key, length, crc64});
    });
    return options;
}

// Six writes rolled at 10 bytes: whole writes to each object, but for the one of 25 bytes.
void rolls_by_size(const oss_client *client, const std::string &bucket) {
    std::vector<Finished> finished;
    const auto data = pattern(51, 5);
    // The options go at once: the appender keeps their callback.
    oss::Appender stream(client, bucket, "wrapper/roll-{n}",
                         rolling(10, std::chrono::hours(1), finished));
    std::size_t at = 0;
    for (std::size_t size : {6, 3, 5, 10, 2, 25}) {
        stream.write(data.data() + at, size);
        at += size;
    }
    const std::uint64_t lengths[] = {9, 5, 10, 10, 10};
    CHECK(finished.size() == 5);
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < finished.size() && i < 5; i++) {
        CHECK(finished[i].key == "wrapper/roll-00000" + std::to_string(i));
        CHECK(finished[i].length == lengths[i]);
        CHECK(finished[i].crc64 == crc_of(data.data() + offset, lengths[i]));
        offset += lengths[i];
    }
    CHECK(stream.key() == "wrapper/roll-000005");
    CHECK(stream.position() == 7 && stream.stream_position() == 51);
    CHECK(stream.crc64() == crc_of(data.data() + 44, 7));
    stream.close();
    CHECK(finished.size() == 5);
}

// tests/c_abi.rs holds the first append longer than the age limit.
void rolls_by_age(const oss_client *client, const std::string &bucket) {
    std::vector<Finished> finished;
    oss::Appender stream(client, bucket, "wrapper/aged-{n}",
                         rolling(1 << 20, std::chrono::milliseconds(100), finished));
    stream.write("one\n");
    stream.write("one\n");
    CHECK(finished.size() == 1 && finished[0].key == "wrapper/aged-000000");
    CHECK(finished.size() == 1 && finished[0].length == 4);
    CHECK(stream.key() == "wrapper/aged-000001");
    stream.close();
}

void bad_templates_are_refused(const oss_client *client, const std::string &bucket) {
    std::vector<Finished> finished;
    for (const std::string template_key : {"wrapper/no-marker", "wrapper/{n}-{n}"}) {
        try {
            oss::Appender stream(client, bucket, template_key, rolling(10, {}, finished));
            CHECK(!"opened");
        } catch (const oss::Error &e) {
            CHECK(e.status() == OSS_ERR_INVALID_ARGUMENT);
            CHECK(std::string(e.what()).find(template_key) != std::string::npos);
        }
    }
    try {
        oss::Options().roll(10, std::chrono::milliseconds(-1));
        CHECK(!"a negative age taken");
    } catch (const std::invalid_argument &) {
    }
    // Without rolling, the key is the one given and the stream is the object.
    oss::Appender plain(client, bucket, "wrapper/{n}");
    plain.write("plain");
    CHECK(plain.key() == "wrapper/{n}" && plain.stream_position() == 5);
    plain.close();
}

// What the roll callback throws comes out of the call that finished the object; tests/c_abi.rs
// fails every attempt of the first append to wrapper/throws-000002.
void callback_exceptions_reach_the_caller(const oss_client *client, const std::string &bucket) {
    oss::Options options;
    options.roll(4).on_roll([](const std::string &key, std::uint64_t, std::uint64_t) {
        throw std::runtime_error(key);
    });
    EXPECT(OSS_OK, oss_append_options_set_seal_on_close(options.get(), true, &err));
    oss::Appender stream(client, bucket, "wrapper/throws-{n}", options);
    stream.write("abc");
    try {
        stream.write("def");
        CHECK(!"no exception");
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "wrapper/throws-000000");
    }
    CHECK(stream.stream_position() == 6);
    // The write fails after the roll: the callback's exception is nested in its Error.
    try {
        stream.write("ghi");
        CHECK(!"no exception");
    } catch (const oss::Error &e) {
        CHECK(e.status() == OSS_ERR_SERVER_ERROR);
        try {
            std::rethrow_if_nested(e);
            CHECK(!"nothing nested");
        } catch (const std::runtime_error &nested) {
            CHECK(std::string(nested.what()) == "wrapper/throws-000001");
        }
    }
    CHECK(stream.key() == "wrapper/throws-000002" && stream.stream_position() == 6);
    stream.write("ghi");
    // Closing seals, which finishes the object; the appender is closed all the same.
    try {
        stream.close();
        CHECK(!"no exception");
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "wrapper/throws-000002");
    }
    try {
        stream.position();
        CHECK(!"a closed appender answered");
    } catch (const oss::Error &e) {
        CHECK(e.status() == OSS_ERR_INVALID_ARGUMENT);
    }
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: wrapper ENDPOINT BUCKET\n");
        return 2;
    }
    try {
        const auto client = oss::make_client(argv[1], std::string("cn-hangzhou"));
        rolls_by_size(client.get(), argv[2]);
        rolls_by_age(client.get(), argv[2]);
        bad_templates_are_refused(client.get(), argv[2]);
        callback_exceptions_reach_the_caller(client.get(), argv[2]);
    } catch (const std::exception &e) {
        fprintf(stderr, "wrapper: %s\n", e.what());
        return 1;
    }
    return finish("all passed");
}
