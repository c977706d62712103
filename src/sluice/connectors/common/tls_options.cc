#include "sluice/connectors/common/tls_options.h"

#include <fmt/format.h>

#include "sluice/config/location.h"

namespace sluice::connectors {

config::OptionSpec TlsOptionSpec(std::string_view tls_scheme) {
  using config::OptionSpec;
  using config::OptionType;
  OptionSpec ca{"ca", OptionType::kString,
                "PEM file of the certificate authorities that sign the broker's certificate; "
                "the system's when left out."};
  OptionSpec cert{"cert", OptionType::kString,
                  "PEM file of the client certificate, for brokers that ask for one."};
  OptionSpec key{"key", OptionType::kString, "PEM file of the client certificate's key."};
  OptionSpec verify{"verify", OptionType::kBool,
                    "Check the broker's certificate and host name (false accepts any).", "true"};
  OptionSpec tls{"tls", OptionType::kSection,
                 fmt::format("TLS settings, for {}:// URLs.", tls_scheme)};
  tls.fields = {ca, cert, key, verify};
  return tls;
}

Result<TlsSettings> TlsSettingsFromConfig(const config::Options& options, bool url_uses_tls,
                                          std::string_view tls_url_example) {
  TlsSettings settings;
  if (!options.Has("tls")) return settings;
  if (!url_uses_tls) {
    return config::ConfigError(options.LocationOf("tls"), "tls is used only with a TLS url",
                               fmt::format("write the url as {}", tls_url_example));
  }
  const config::Options& tls = options.GetSection("tls");
  if (tls.Has("ca")) settings.ca = tls.GetString("ca");
  if (tls.Has("cert")) settings.cert = tls.GetString("cert");
  if (tls.Has("key")) settings.key = tls.GetString("key");
  settings.verify = tls.GetBool("verify");
  if (settings.cert.empty() != settings.key.empty()) {
    return config::ConfigError(options.LocationOf("tls"),
                               "a client certificate needs both cert and key");
  }
  return settings;
}

}  // namespace sluice::connectors
