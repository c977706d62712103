#include "sluice/duckdb/database.h"

#include <string>

namespace sluice::duckdb {

namespace {

/// Owns a duckdb_config until it has been used to open a database.
class ConfigHandle {
 public:
  ConfigHandle() = default;
  ~ConfigHandle() {
    if (config_ != nullptr) duckdb_destroy_config(&config_);
  }
  ConfigHandle(const ConfigHandle&) = delete;
  ConfigHandle& operator=(const ConfigHandle&) = delete;

  Status Create() {
    if (duckdb_create_config(&config_) != DuckDBSuccess) {
      return Status::OutOfMemory("DuckDB: cannot allocate a database configuration");
    }
    return Status::OK();
  }

  Status Set(const std::string& name, const std::string& value) {
    if (duckdb_set_config(config_, name.c_str(), value.c_str()) != DuckDBSuccess) {
      return Status::Invalid("DuckDB: invalid setting ", name, " = '", value, "'");
    }
    return Status::OK();
  }

  duckdb_config get() const { return config_; }

 private:
  duckdb_config config_ = nullptr;
};

}  // namespace

Result<std::shared_ptr<Database>> Database::Open(const std::string& path,
                                                 const DatabaseOptions& options) {
  if (options.threads < 1)
    return Status::Invalid("DuckDB: threads must be at least 1, not ", options.threads);
  ConfigHandle config;
  SLUICE_RETURN_NOT_OK(config.Create());
  SLUICE_RETURN_NOT_OK(config.Set("threads", std::to_string(options.threads)));
  SLUICE_RETURN_NOT_OK(config.Set("autoinstall_known_extensions", "false"));
  SLUICE_RETURN_NOT_OK(config.Set("autoload_known_extensions", "false"));
  if (!options.memory_limit.empty())
    SLUICE_RETURN_NOT_OK(config.Set("memory_limit", options.memory_limit));
  if (options.read_only) SLUICE_RETURN_NOT_OK(config.Set("access_mode", "READ_ONLY"));

  duckdb_database database = nullptr;
  char* error = nullptr;
  const char* location = path.empty() ? ":memory:" : path.c_str();
  if (duckdb_open_ext(location, &database, config.get(), &error) != DuckDBSuccess) {
    std::string message = error != nullptr ? error : "unknown error";
    if (error != nullptr) duckdb_free(error);
    // duckdb_open_ext leaves a handle to be closed even when it fails.
    if (database != nullptr) duckdb_close(&database);
    return Status::IOError("DuckDB: cannot open database '", location, "': ", message);
  }
  return std::shared_ptr<Database>(new Database(database));
}

Database::~Database() {
  if (database_ != nullptr) duckdb_close(&database_);
}

}  // namespace sluice::duckdb
