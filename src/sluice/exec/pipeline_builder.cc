// Building a pipeline from its file: sources, the graph of streams and stages, sinks, and the
// event-time configuration, with every configuration error found before any data flows.
#include <arrow/compute/api.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>

#include "sluice/common/spelling.h"
#include "sluice/exec/pipeline.h"
#include "sluice/processors/emit.h"

namespace sluice::exec {
namespace {

/// The default `max_state`: 60 % of the machine's memory, so that a run whose state grows
/// without bound fails with a message naming the stage before the kernel kills the process.
int64_t DefaultMaxState() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return int64_t{8} << 30;
  return static_cast<int64_t>(static_cast<double>(pages) * static_cast<double>(page_size) * 0.6);
}

/// A stream's event-time field: the one its stage declares, else its input's. A field the stage
/// dropped stays the stream's field, so that a later stage that needs it says it is gone.
std::string OutputEventTime(const Processor& processor, const std::string& input_field) {
  std::string field = processor.output_event_time_field();
  return field.empty() ? input_field : field;
}

}  // namespace

Status Pipeline::ConfigureEventTime(const config::PipelineConfig& config) {
  clocks_.resize(sources_.size());
  size_t first_with = sources_.size();
  for (size_t i = 0; i < sources_.size(); ++i) {
    const config::Options& options = config.sources[i].options;
    if (!options.Has("event_time")) continue;
    const config::Options& event_time = options.GetSection("event_time");
    std::string name = event_time.GetString("field");
    // A source with several streams has the field in each of them.
    for (size_t index : source_streams_[i]) {
      Stream& stream = streams_[index];
      int column = stream.schema->GetFieldIndex(name);
      if (column < 0) {
        return config::ConfigError(
            event_time.LocationOf("field"),
            fmt::format("source '{}' has no field '{}' for its event time", stream.name, name),
            SpellingHint(name, stream.schema->field_names()));
      }
      const auto& type = stream.schema->field(column)->type();
      if (type->id() != arrow::Type::TIMESTAMP ||
          static_cast<const arrow::TimestampType&>(*type).unit() != arrow::TimeUnit::MICRO) {
        return config::ConfigError(
            event_time.LocationOf("field"),
            fmt::format("event-time field '{}' is {}, not a timestamp", name, type->ToString()),
            fmt::format("declare it in the source's schema: schema: {{{}: timestamp}}", name));
      }
      stream.event_time_field = name;
      stream.event_time_index = column;
    }
    if (first_with == sources_.size()) {
      first_with = i;
      processor_context_.event_time_field = name;
    }
    clocks_[i].has_event_time = true;
    clocks_[i].delay_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              event_time.GetDuration("watermark_delay"))
                              .count();
    clocks_[i].idle_timeout = event_time.GetDuration("idle_timeout");
  }
  if (first_with == sources_.size()) return Status::OK();
  // One watermark orders the whole pipeline: it is event time only when every source has one.
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (!clocks_[i].has_event_time) {
      return config::ConfigError(config.sources[i].options.where(),
                                 fmt::format("source '{}' has no event_time, but source '{}' has",
                                             config.sources[i].id, config.sources[first_with].id),
                                 fmt::format("give every source an event time, e.g. event_time: {}",
                                             processor_context_.event_time_field));
    }
  }
  return Status::OK();
}

/// Builds the graph of streams from a pipeline file: resolves every step's and sink's input,
/// builds the processors for their input schemas, and wires consumers to streams.
class Pipeline::Builder {
 public:
  Builder(Pipeline* pipeline, const config::PipelineConfig& config, const Registry& registry)
      : pipeline_(pipeline), config_(config), registry_(registry) {}

  Status Build() {
    Pipeline& p = *pipeline_;
    for (const auto& component : config_.sources) {
      const SourceFactory* factory = registry_.FindSource(component.plugin);
      if (factory == nullptr)
        return Status::Invalid("no factory for source connector ", component.plugin);
      SLUICE_ASSIGN_OR_RAISE(
          auto source, (*factory)(SourceContext(component.id), component.options));
      std::vector<size_t> indexes;
      std::vector<SourceStream> streams = source->streams();
      if (streams.empty()) {
        indexes.push_back(AddStream(component.id, source->schema()));
      } else {
        for (const auto& stream : streams)
          indexes.push_back(AddStream(component.id + "." + stream.name, stream.schema));
      }
      p.source_names_.push_back(component.id);
      p.sources_.push_back(std::move(source));
      p.source_streams_.push_back(std::move(indexes));
    }
    for (size_t i = 0; i < p.streams_.size(); ++i) names_[p.streams_[i].name] = i;
    p.processor_context_.bounded = p.bounded();
    SLUICE_RETURN_NOT_OK(p.ConfigureEventTime(config_));
    p.input_schema_ = p.streams_.front().schema;
    if (MultiStreamSource() == nullptr) {
      // The union's schema is known up front for callers; a type conflict only matters (and is
      // only reported) when a step or sink reads the union.
      auto unified = UnifiedSchema();
      if (unified.ok()) p.input_schema_ = *unified;
    }

    std::optional<size_t> previous;
    for (size_t i = 0; i < config_.processors.size(); ++i) {
      SLUICE_ASSIGN_OR_RAISE(previous, AddStage(config_.processors[i], i, previous));
    }
    if (config_.emit) {
      SLUICE_ASSIGN_OR_RAISE(size_t input, previous ? Result<size_t>(*previous)
                                                    : UnionStream(config_.emit->options.where()));
      SLUICE_ASSIGN_OR_RAISE(auto emit,
                             processors::MakeEmit(config_.emit->options, p.streams_[input].schema));
      previous = AddStageOutput("emit", "", std::move(emit), {input});
    }
    // Sinks without an input write the pipeline's output: the last step's.
    std::optional<size_t> output = previous;
    for (const auto& sink : config_.sinks) {
      if (!sink.inputs.empty()) continue;
      if (!output) {
        SLUICE_ASSIGN_OR_RAISE(output, UnionStream(sink.where));
      }
      break;
    }
    p.output_schema_ = output ? p.streams_[*output].schema : p.input_schema_;
    return BuildSinks(output);
  }

 private:
  size_t AddStream(std::string name, std::shared_ptr<arrow::Schema> schema) {
    Stream stream;
    stream.name = std::move(name);
    stream.schema = std::move(schema);
    pipeline_->streams_.push_back(std::move(stream));
    return pipeline_->streams_.size() - 1;
  }

  /// A source with several streams, which cannot be part of the sources' union.
  const config::ComponentConfig* MultiStreamSource() const {
    for (size_t i = 0; i < config_.sources.size(); ++i) {
      if (pipeline_->source_streams_[i].size() > 1) return &config_.sources[i];
    }
    return nullptr;
  }

  Result<std::shared_ptr<arrow::Schema>> UnifiedSchema() const {
    const Pipeline& p = *pipeline_;
    arrow::FieldVector fields;
    for (size_t i = 0; i < p.sources_.size(); ++i) {
      for (const auto& field : p.streams_[p.source_streams_[i].front()].schema->fields()) {
        auto existing = std::find_if(fields.begin(), fields.end(),
                                     [&](const auto& f) { return f->name() == field->name(); });
        if (existing == fields.end()) {
          fields.push_back(field->WithNullable(true));
        } else if (!(*existing)->type()->Equals(*field->type())) {
          return config::ConfigError(
              config_.sources[i].options.where(),
              fmt::format(
                  "source '{}' has field '{}' of type {}, but an earlier source has it as {}",
                  config_.sources[i].id, field->name(), field->type()->ToString(),
                  (*existing)->type()->ToString()),
              "make the types agree with a 'schema' on the sources, or read each source in a "
              "step of its own with 'input'");
        }
      }
    }
    return arrow::schema(std::move(fields));
  }

  /// The stream of every source's rows together, what a first step without `input` reads.
  Result<size_t> UnionStream(const config::Location& reader) {
    Pipeline& p = *pipeline_;
    if (p.union_stream_) return *p.union_stream_;
    if (const auto* source = MultiStreamSource()) {
      std::vector<std::string> names;
      for (size_t index : p.source_streams_[source - config_.sources.data()])
        names.push_back(p.streams_[index].name);
      return config::ConfigError(
          reader,
          fmt::format("source '{}' has several streams ({}); say which one is read here",
                      source->id, fmt::join(names, ", ")),
          fmt::format("add 'input: {}'", names.back()));
    }
    if (p.sources_.size() == 1) {
      p.union_stream_ = p.source_streams_[0][0];
      return *p.union_stream_;
    }
    SLUICE_ASSIGN_OR_RAISE(auto schema, UnifiedSchema());
    size_t index = AddStream("sources", std::move(schema));
    // With event time, the sources agree on its field (each source's rows carry it).
    std::string field;
    for (size_t i = 0; i < p.sources_.size(); ++i) {
      const Stream& stream = p.streams_[p.source_streams_[i][0]];
      if (i > 0 && stream.event_time_field != field) {
        const config::Options& event_time = config_.sources[i].options.GetSection("event_time");
        return config::ConfigError(
            event_time.LocationOf("field"),
            fmt::format("sources disagree on the event-time field: '{}' here, '{}' in source '{}'",
                        stream.event_time_field, field, config_.sources[0].id),
            "rename one of them in its schema so that both use the same name, or read each "
            "source in a step of its own with 'input'");
      }
      field = stream.event_time_field;
      p.streams_[p.source_streams_[i][0]].consumers.push_back(
          Consumer{Consumer::Kind::kUnion, index, 0});
    }
    p.streams_[index].event_time_field = field;
    p.streams_[index].event_time_index = p.streams_[index].schema->GetFieldIndex(field);
    p.union_stream_ = index;
    return index;
  }

  Result<size_t> Resolve(const config::StreamRef& ref, size_t step) const {
    auto found = names_.find(ref.name);
    if (found != names_.end()) return found->second;
    for (size_t later = step; later < config_.processors.size(); ++later) {
      if (config_.processors[later].output == ref.name) {
        return config::ConfigError(
            ref.where, fmt::format("stream '{}' is produced by a later step", ref.name),
            "a step reads sources and the steps before it; move this step below that one");
      }
    }
    for (size_t i = 0; i < config_.sources.size(); ++i) {
      if (config_.sources[i].id != ref.name || pipeline_->source_streams_[i].size() < 2) continue;
      std::vector<std::string> names;
      for (size_t index : pipeline_->source_streams_[i])
        names.push_back(pipeline_->streams_[index].name);
      return config::ConfigError(
          ref.where, fmt::format("source '{}' has several streams; name one: {}", ref.name,
                                 fmt::join(names, ", ")));
    }
    std::vector<std::string> known;
    for (const auto& [name, index] : names_) known.push_back(name);
    std::string hint = SpellingHint(ref.name, known);
    if (hint.empty()) hint = fmt::format("known streams: {}", fmt::join(known, ", "));
    return config::ConfigError(ref.where, fmt::format("no stream named '{}'", ref.name), hint);
  }

  /// Builds step `i` and returns its output stream.
  Result<size_t> AddStage(const config::ComponentConfig& component, size_t i,
                          std::optional<size_t> previous) {
    Pipeline& p = *pipeline_;
    std::vector<size_t> inputs;
    if (component.inputs.empty()) {
      SLUICE_ASSIGN_OR_RAISE(size_t input,
                             previous ? Result<size_t>(*previous) : UnionStream(component.where));
      inputs.push_back(input);
    }
    for (const auto& ref : component.inputs) {
      SLUICE_ASSIGN_OR_RAISE(size_t input, Resolve(ref, i));
      inputs.push_back(input);
    }
    const ProcessorFactory* factory = registry_.FindProcessor(component.plugin);
    if (factory == nullptr) return Status::Invalid("no factory for processor ", component.plugin);
    ProcessorContext context = p.processor_context_;
    context.event_time_field = p.streams_[inputs.front()].event_time_field;
    for (size_t input : inputs) {
      const Stream& stream = p.streams_[input];
      context.inputs.push_back(InputStream{stream.name, stream.schema, stream.event_time_field});
    }
    SLUICE_ASSIGN_OR_RAISE(
        auto processor, (*factory)(context, component.options, p.streams_[inputs.front()].schema));
    if (!component.output.empty()) {
      if (names_.count(component.output) > 0) {
        return config::ConfigError(
            component.where, fmt::format("a stream named '{}' already exists", component.output),
            "give this step another name");
      }
    }
    size_t output = AddStageOutput(component.id, component.output, std::move(processor), inputs);
    if (!component.output.empty()) names_[component.output] = output;
    Stage& stage = p.stages_.back();
    stage.state_id = StateId(component);
    stage.plugin = component.plugin;
    stage.config = component.canonical;
    // Schemas only: a stateless step added before the stage renames its input stream, which
    // changes nothing the state depends on.
    for (const auto& input : context.inputs)
      stage.input_schema += input.schema->ToString(/*show_metadata=*/false) + "\n";
    return output;
  }

  size_t AddStageOutput(const std::string& id, const std::string& name,
                        std::unique_ptr<Processor> processor, const std::vector<size_t>& inputs) {
    Pipeline& p = *pipeline_;
    size_t stage = p.stages_.size();
    for (size_t port = 0; port < inputs.size(); ++port) {
      p.streams_[inputs[port]].consumers.push_back(Consumer{Consumer::Kind::kStage, stage, port});
    }
    std::string field = OutputEventTime(*processor, p.streams_[inputs.front()].event_time_field);
    size_t output = AddStream(name.empty() ? id : name, processor->output_schema());
    p.streams_[output].event_time_field = field;
    p.streams_[output].event_time_index =
        field.empty() ? -1 : p.streams_[output].schema->GetFieldIndex(field);
    p.stages_.push_back(Stage{id, std::move(processor), output});
    return output;
  }

  Status BuildSinks(std::optional<size_t> output) {
    Pipeline& p = *pipeline_;
    ConnectorContext sink_context{config_.name, "", &p.dead_letters_};
    sink_context.checkpoints = config_.checkpoint.has_value();
    sink_context.bounded = p.bounded();
    for (const auto& component : config_.sources)
      sink_context.source_connectors.push_back(component.plugin);
    for (size_t i = 0; i < config_.processors.size(); ++i) {
      if (!p.stages_[i].processor->stateless()) {
        sink_context.stateful_stages.push_back(config_.processors[i].id);
      }
    }
    for (const auto& component : config_.sinks) {
      size_t input = 0;
      if (component.inputs.empty()) {
        input = *output;
      } else {
        SLUICE_ASSIGN_OR_RAISE(input, Resolve(component.inputs.front(), config_.processors.size()));
      }
      const SinkFactory* factory = registry_.FindSink(component.plugin);
      if (factory == nullptr)
        return Status::Invalid("no factory for sink connector ", component.plugin);
      sink_context.name = component.id;
      sink_context.input_schema = p.streams_[input].schema;
      SLUICE_ASSIGN_OR_RAISE(auto sink, (*factory)(sink_context, component.options));
      p.streams_[input].consumers.push_back(Consumer{Consumer::Kind::kSink, p.sinks_.size(), 0});
      p.streams_[input].feeds_sinks = true;
      p.sinks_.push_back(NamedSink{component.id, std::move(sink), false});
      p.sink_inputs_.push_back(input);
    }
    if (config_.dead_letters) {
      const SinkFactory* factory = registry_.FindSink(config_.dead_letters->plugin);
      if (factory == nullptr)
        return Status::Invalid("no factory for sink connector ", config_.dead_letters->plugin);
      ConnectorContext context{config_.name, "dead_letters"};
      context.checkpoints = config_.checkpoint.has_value();
      context.bounded = p.bounded();
      SLUICE_ASSIGN_OR_RAISE(p.dead_letter_sink_,
                             (*factory)(context, config_.dead_letters->options));
    }
    return Status::OK();
  }

  ConnectorContext SourceContext(const std::string& name) const {
    ConnectorContext context{config_.name, name};
    context.checkpoints = config_.checkpoint.has_value();
    context.pipeline_file = config_.file;
    return context;
  }

  /// A stage's state id: its `name`, else its processor's name, numbered from the second stage
  /// of the same processor on (`window`, `window#2`).
  std::string StateId(const config::ComponentConfig& component) {
    if (!component.output.empty()) return component.output;
    int count = ++processor_counts_[component.plugin];
    return count == 1 ? component.plugin : fmt::format("{}#{}", component.plugin, count);
  }

  Pipeline* pipeline_;
  const config::PipelineConfig& config_;
  const Registry& registry_;
  /// Streams a step or sink can name: source streams and named steps defined so far.
  std::map<std::string, size_t> names_;
  /// Stages built so far, by processor, for StateId().
  std::map<std::string, int> processor_counts_;
};

Result<std::unique_ptr<Pipeline>> Pipeline::Make(const config::PipelineConfig& config,
                                                 const Registry& registry) {
  // Arrow's compute kernels live in a library of their own that registers them on demand.
  SLUICE_RETURN_NOT_OK(arrow::compute::Initialize());
  // How s3:// paths reach their server, before any connector resolves one.
  SetS3Settings(config.s3);
  std::unique_ptr<Pipeline> pipeline(new Pipeline());
  pipeline->name_ = config.name;
  pipeline->processor_context_ = ProcessorContext{config.name, &pipeline->dead_letters_};
  pipeline->processor_context_.row_watermarks = &pipeline->row_watermarks_;
  SLUICE_RETURN_NOT_OK(Builder(pipeline.get(), config, registry).Build());
  pipeline->max_state_ = config.max_state.value_or(DefaultMaxState());
  pipeline->max_state_where_ = config.max_state_where;
  SLUICE_RETURN_NOT_OK(pipeline->CheckCheckpointable(config));
  return pipeline;
}

}  // namespace sluice::exec
