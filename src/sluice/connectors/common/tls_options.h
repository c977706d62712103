#pragma once

#include <string>
#include <string_view>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

// The `tls:` section of connectors whose URL scheme chooses TLS (amqps://, mqtts://), declared
// once: ca, cert, key, verify.

namespace sluice::connectors {

/// What `tls:` says.
struct TlsSettings {
  /// PEM file of the certificate authorities that sign the broker's certificate; empty for the
  /// system's.
  std::string ca;
  /// PEM files of the client's certificate and key, for brokers that ask for one.
  std::string cert;
  std::string key;
  /// Check the broker's certificate and host name.
  bool verify = true;
};

/// The `tls` option, for URLs of scheme `tls_scheme` (amqps).
config::OptionSpec TlsOptionSpec(std::string_view tls_scheme);

/// Reads `tls:`. Given with a URL that does not use TLS (`url_uses_tls` false), or with only one
/// of cert and key, it is a configuration error at its place; `tls_url_example` is the hint.
Result<TlsSettings> TlsSettingsFromConfig(const config::Options& options, bool url_uses_tls,
                                          std::string_view tls_url_example);

}  // namespace sluice::connectors
