#include "sluice/formats/avro_schema.h"

#include <arrow/type.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <map>
#include <set>

#include "sluice/formats/type_names.h"
#include "sluice/formats/value_text.h"

namespace sluice::formats::avro {
namespace {

/// Nesting deeper than this is refused rather than recursed into.
constexpr int kMaxDepth = 64;

using NodePtr = std::shared_ptr<AvroNode>;

AvroLogical LogicalOf(std::string_view name, AvroType type) {
  if (type == AvroType::kInt) {
    if (name == "date") return AvroLogical::kDate;
    if (name == "time-millis") return AvroLogical::kTimeMillis;
  }
  if (type == AvroType::kLong) {
    if (name == "time-micros") return AvroLogical::kTimeMicros;
    if (name == "timestamp-millis") return AvroLogical::kTimestampMillis;
    if (name == "timestamp-micros") return AvroLogical::kTimestampMicros;
    if (name == "local-timestamp-millis") return AvroLogical::kLocalTimestampMillis;
    if (name == "local-timestamp-micros") return AvroLogical::kLocalTimestampMicros;
  }
  if ((type == AvroType::kBytes || type == AvroType::kFixed) && name == "decimal")
    return AvroLogical::kDecimal;
  if (type == AvroType::kString && name == "uuid") return AvroLogical::kUuid;
  return AvroLogical::kNone;
}

/// Sets the node's Arrow type and smallest size from its type, logical type and children.
void Complete(AvroNode* node) {
  switch (node->type) {
    case AvroType::kNull:
      node->arrow_type = arrow::null();
      node->min_size = 0;
      break;
    case AvroType::kBoolean:
      node->arrow_type = arrow::boolean();
      node->min_size = 1;
      break;
    case AvroType::kInt:
      node->arrow_type = node->logical == AvroLogical::kDate ? arrow::date32()
                         : node->logical == AvroLogical::kTimeMillis
                             ? arrow::time32(arrow::TimeUnit::MILLI)
                             : arrow::int32();
      node->min_size = 1;
      break;
    case AvroType::kLong:
      switch (node->logical) {
        case AvroLogical::kTimeMicros:
          node->arrow_type = arrow::time64(arrow::TimeUnit::MICRO);
          break;
        case AvroLogical::kTimestampMillis:
        case AvroLogical::kTimestampMicros:
          node->arrow_type = TimestampType();
          break;
        case AvroLogical::kLocalTimestampMillis:
        case AvroLogical::kLocalTimestampMicros:
          node->arrow_type = arrow::timestamp(arrow::TimeUnit::MICRO);
          break;
        default:
          node->arrow_type = arrow::int64();
      }
      node->min_size = 1;
      break;
    case AvroType::kFloat:
      node->arrow_type = arrow::float32();
      node->min_size = 4;
      break;
    case AvroType::kDouble:
      node->arrow_type = arrow::float64();
      node->min_size = 8;
      break;
    case AvroType::kBytes:
    case AvroType::kFixed:
      node->arrow_type = node->logical == AvroLogical::kDecimal
                             ? arrow::decimal128(node->precision, node->scale)
                             : arrow::binary();
      node->min_size = node->type == AvroType::kFixed ? node->fixed_size : 1;
      break;
    case AvroType::kString:
    case AvroType::kEnum:
      node->arrow_type = arrow::utf8();
      node->min_size = 1;
      break;
    case AvroType::kRecord: {
      arrow::FieldVector fields;
      node->min_size = 0;
      for (size_t i = 0; i < node->children.size(); ++i) {
        const AvroNode& child = *node->children[i];
        fields.push_back(arrow::field(node->names[i], child.arrow_type,
                                      child.nullable || child.type == AvroType::kNull));
        node->min_size += child.min_size;
      }
      node->arrow_type = arrow::struct_(std::move(fields));
      break;
    }
    case AvroType::kArray: {
      const AvroNode& item = *node->children[0];
      node->arrow_type = arrow::list(arrow::field("item", item.arrow_type, true));
      node->min_size = 1;
      break;
    }
    case AvroType::kMap:
      node->arrow_type = arrow::map(arrow::utf8(), node->children[0]->arrow_type);
      node->min_size = 1;
      break;
  }
  if (node->nullable) node->min_size = 1;
}

/// Parses Avro schema JSON into nodes, resolving named types.
class SchemaParser {
 public:
  Result<NodePtr> Parse(simdjson::dom::element element, const std::string& space,
                        const std::string& where, int depth) {
    if (depth > kMaxDepth)
      return Status::Invalid(fmt::format("the Avro schema nests deeper than {} at {}", kMaxDepth,
                                         where));
    std::string_view text;
    if (element.get_string().get(text) == simdjson::SUCCESS) return Named(text, space, where);
    simdjson::dom::array branches;
    if (element.get_array().get(branches) == simdjson::SUCCESS)
      return Union(branches, space, where, depth);
    simdjson::dom::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS)
      return Status::Invalid(fmt::format("the Avro schema has a type that is not a name, an "
                                         "object or a union at {}",
                                         where));
    std::string_view type;
    simdjson::dom::element type_element;
    if (object["type"].get(type_element) != simdjson::SUCCESS)
      return Status::Invalid(fmt::format("an Avro schema object has no \"type\" at {}", where));
    if (type_element.get_string().get(type) != simdjson::SUCCESS) {
      // {"type": {...}} or {"type": [...]}: the type is nested one level.
      return Parse(type_element, space, where, depth + 1);
    }
    std::string_view logical_name;
    (void)object["logicalType"].get_string().get(logical_name);
    if (type == "record" || type == "error") return Record(object, space, where, depth);
    if (type == "enum") return Enum(object, space, where);
    if (type == "fixed") {
      SLUICE_ASSIGN_OR_RAISE(NodePtr node, Fixed(object, space, where));
      return WithLogical(node, object, logical_name, where);
    }
    if (type == "array" || type == "map") {
      simdjson::dom::element inner;
      if (object[type == "array" ? "items" : "values"].get(inner) != simdjson::SUCCESS)
        return Status::Invalid(fmt::format("an Avro {} has no \"{}\" at {}", type,
                                           type == "array" ? "items" : "values", where));
      SLUICE_ASSIGN_OR_RAISE(NodePtr child, Parse(inner, space, where + "[]", depth + 1));
      auto node = std::make_shared<AvroNode>();
      node->type = type == "array" ? AvroType::kArray : AvroType::kMap;
      node->children.push_back(std::move(child));
      Complete(node.get());
      return node;
    }
    SLUICE_ASSIGN_OR_RAISE(NodePtr node, Named(type, space, where));
    return WithLogical(node, object, logical_name, where);
  }

 private:
  Result<NodePtr> WithLogical(NodePtr node, simdjson::dom::object object,
                              std::string_view logical_name, const std::string& where) {
    AvroLogical logical = LogicalOf(logical_name, node->type);
    if (logical == AvroLogical::kNone) return node;
    auto copy = std::make_shared<AvroNode>(*node);
    copy->logical = logical;
    if (logical == AvroLogical::kDecimal) {
      int64_t precision = 0;
      int64_t scale = 0;
      (void)object["precision"].get_int64().get(precision);
      (void)object["scale"].get_int64().get(scale);
      // An invalid decimal is read as its underlying type, as the specification says.
      if (precision < 1 || precision > 38 || scale < 0 || scale > precision) return node;
      copy->precision = static_cast<int>(precision);
      copy->scale = static_cast<int>(scale);
    }
    (void)where;
    Complete(copy.get());
    return copy;
  }

  static std::string FullName(simdjson::dom::object object, const std::string& space,
                              std::string* inner_space) {
    std::string_view name;
    (void)object["name"].get_string().get(name);
    std::string_view given_space;
    std::string full;
    if (name.find('.') != std::string_view::npos) {
      full = std::string(name);
    } else if (object["namespace"].get_string().get(given_space) == simdjson::SUCCESS) {
      full = given_space.empty() ? std::string(name) : fmt::format("{}.{}", given_space, name);
    } else {
      full = space.empty() ? std::string(name) : fmt::format("{}.{}", space, name);
    }
    size_t dot = full.rfind('.');
    *inner_space = dot == std::string::npos ? "" : full.substr(0, dot);
    return full;
  }

  Result<NodePtr> Named(std::string_view name, const std::string& space,
                        const std::string& where) {
    static const std::map<std::string_view, AvroType, std::less<>> kPrimitives = {
        {"null", AvroType::kNull},     {"boolean", AvroType::kBoolean},
        {"int", AvroType::kInt},       {"long", AvroType::kLong},
        {"float", AvroType::kFloat},   {"double", AvroType::kDouble},
        {"bytes", AvroType::kBytes},   {"string", AvroType::kString}};
    if (auto primitive = kPrimitives.find(name); primitive != kPrimitives.end()) {
      auto node = std::make_shared<AvroNode>();
      node->type = primitive->second;
      Complete(node.get());
      return node;
    }
    std::string full = name.find('.') == std::string_view::npos && !space.empty()
                           ? fmt::format("{}.{}", space, name)
                           : std::string(name);
    for (const std::string& candidate : {full, std::string(name)}) {
      if (defining_.count(candidate))
        return Status::Invalid(fmt::format(
            "the Avro type '{}' refers to itself at {}: recursive types have no Arrow form",
            candidate, where));
      if (auto found = named_.find(candidate); found != named_.end()) return found->second;
    }
    return Status::Invalid(fmt::format("unknown Avro type '{}' at {}", name, where));
  }

  Result<NodePtr> Union(simdjson::dom::array branches, const std::string& space,
                        const std::string& where, int depth) {
    std::vector<NodePtr> nodes;
    for (simdjson::dom::element branch : branches) {
      SLUICE_ASSIGN_OR_RAISE(NodePtr node, Parse(branch, space, where, depth + 1));
      nodes.push_back(std::move(node));
    }
    if (nodes.size() == 1) return nodes[0];
    if (nodes.size() == 2) {
      bool first_null = nodes[0]->type == AvroType::kNull && !nodes[0]->nullable;
      bool second_null = nodes[1]->type == AvroType::kNull && !nodes[1]->nullable;
      if (first_null != second_null) {
        auto node = std::make_shared<AvroNode>(*nodes[first_null ? 1 : 0]);
        if (!node->nullable) {
          node->nullable = true;
          node->null_branch = first_null ? 0 : 1;
          Complete(node.get());
          return node;
        }
      }
    }
    return Status::Invalid(fmt::format(
        "the Avro field {} is a union of {} types: only [\"null\", T] (a nullable T) is read",
        where, nodes.size()));
  }

  Result<NodePtr> Record(simdjson::dom::object object, const std::string& space,
                         const std::string& where, int depth) {
    std::string inner_space;
    std::string full = FullName(object, space, &inner_space);
    simdjson::dom::array fields;
    if (object["fields"].get_array().get(fields) != simdjson::SUCCESS)
      return Status::Invalid(fmt::format("the Avro record '{}' has no \"fields\" at {}", full,
                                         where));
    defining_.insert(full);
    auto node = std::make_shared<AvroNode>();
    node->type = AvroType::kRecord;
    node->name = full;
    for (simdjson::dom::element field : fields) {
      std::string_view name;
      simdjson::dom::element type;
      if (field["name"].get_string().get(name) != simdjson::SUCCESS ||
          field["type"].get(type) != simdjson::SUCCESS)
        return Status::Invalid(fmt::format(
            "a field of the Avro record '{}' lacks a \"name\" or \"type\" at {}", full, where));
      std::string path = where.empty() ? fmt::format("'{}'", name)
                                       : fmt::format("{}.{}", where, name);
      SLUICE_ASSIGN_OR_RAISE(NodePtr child, Parse(type, inner_space, path, depth + 1));
      node->names.emplace_back(name);
      node->children.push_back(std::move(child));
    }
    defining_.erase(full);
    Complete(node.get());
    named_[full] = node;
    return node;
  }

  Result<NodePtr> Enum(simdjson::dom::object object, const std::string& space,
                       const std::string& where) {
    std::string inner_space;
    std::string full = FullName(object, space, &inner_space);
    simdjson::dom::array symbols;
    if (object["symbols"].get_array().get(symbols) != simdjson::SUCCESS)
      return Status::Invalid(fmt::format("the Avro enum '{}' has no \"symbols\" at {}", full,
                                         where));
    auto node = std::make_shared<AvroNode>();
    node->type = AvroType::kEnum;
    node->name = full;
    for (simdjson::dom::element symbol : symbols) {
      std::string_view text;
      if (symbol.get_string().get(text) != simdjson::SUCCESS)
        return Status::Invalid(fmt::format("a symbol of the Avro enum '{}' is not a string",
                                           full));
      node->names.emplace_back(text);
    }
    Complete(node.get());
    named_[full] = node;
    return node;
  }

  Result<NodePtr> Fixed(simdjson::dom::object object, const std::string& space,
                        const std::string& where) {
    std::string inner_space;
    std::string full = FullName(object, space, &inner_space);
    int64_t size = -1;
    if (object["size"].get_int64().get(size) != simdjson::SUCCESS || size < 0)
      return Status::Invalid(fmt::format("the Avro fixed '{}' has no valid \"size\" at {}", full,
                                         where));
    auto node = std::make_shared<AvroNode>();
    node->type = AvroType::kFixed;
    node->name = full;
    node->fixed_size = size;
    Complete(node.get());
    named_[full] = node;
    return node;
  }

  std::map<std::string, NodePtr> named_;
  std::set<std::string> defining_;
};

/// Builds the node writing values of `type`, with the Arrow type they are cast to.
Result<NodePtr> NodeFromArrow(const arrow::DataType& type, bool nullable, const std::string& where,
                              int* records) {
  auto node = std::make_shared<AvroNode>();
  auto refuse = [&]() {
    return Status::TypeError(fmt::format("the field {} of type {} has no Avro form", where,
                                         TypeName(type)));
  };
  switch (type.id()) {
    case arrow::Type::NA:
      node->type = AvroType::kNull;
      nullable = false;
      break;
    case arrow::Type::BOOL:
      node->type = AvroType::kBoolean;
      break;
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
      node->type = AvroType::kInt;
      break;
    case arrow::Type::INT64:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
      node->type = AvroType::kLong;
      break;
    case arrow::Type::HALF_FLOAT:
    case arrow::Type::FLOAT:
      node->type = AvroType::kFloat;
      break;
    case arrow::Type::DOUBLE:
      node->type = AvroType::kDouble;
      break;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      node->type = AvroType::kString;
      break;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY:
      node->type = AvroType::kBytes;
      break;
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
      node->type = AvroType::kInt;
      node->logical = AvroLogical::kDate;
      break;
    case arrow::Type::TIME32:
      node->type = AvroType::kInt;
      node->logical = AvroLogical::kTimeMillis;
      break;
    case arrow::Type::TIME64:
      node->type = AvroType::kLong;
      node->logical = AvroLogical::kTimeMicros;
      break;
    case arrow::Type::TIMESTAMP:
      node->type = AvroType::kLong;
      node->logical = static_cast<const arrow::TimestampType&>(type).timezone().empty()
                          ? AvroLogical::kLocalTimestampMicros
                          : AvroLogical::kTimestampMicros;
      break;
    case arrow::Type::DECIMAL32:
    case arrow::Type::DECIMAL64:
    case arrow::Type::DECIMAL128: {
      const auto& decimal = static_cast<const arrow::DecimalType&>(type);
      node->type = AvroType::kBytes;
      node->logical = AvroLogical::kDecimal;
      node->precision = decimal.precision();
      node->scale = decimal.scale();
      break;
    }
    case arrow::Type::STRUCT: {
      node->type = AvroType::kRecord;
      node->name = fmt::format("record_{}", ++*records);
      for (const auto& field : type.fields()) {
        SLUICE_ASSIGN_OR_RAISE(auto child,
                               NodeFromArrow(*field->type(), field->nullable(),
                                             fmt::format("{}.{}", where, field->name()), records));
        node->names.push_back(field->name());
        node->children.push_back(std::move(child));
      }
      break;
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::LIST_VIEW:
    case arrow::Type::LARGE_LIST_VIEW:
    case arrow::Type::FIXED_SIZE_LIST: {
      node->type = AvroType::kArray;
      SLUICE_ASSIGN_OR_RAISE(
          auto item, NodeFromArrow(*type.field(0)->type(), true, where + "[]", records));
      node->children.push_back(std::move(item));
      break;
    }
    case arrow::Type::MAP: {
      const auto& map = static_cast<const arrow::MapType&>(type);
      arrow::Type::type key = map.key_type()->id();
      if (key != arrow::Type::STRING && key != arrow::Type::LARGE_STRING) return refuse();
      node->type = AvroType::kMap;
      SLUICE_ASSIGN_OR_RAISE(auto item,
                             NodeFromArrow(*map.item_type(), true, where + "[]", records));
      node->children.push_back(std::move(item));
      break;
    }
    case arrow::Type::DICTIONARY:
      return NodeFromArrow(*static_cast<const arrow::DictionaryType&>(type).value_type(),
                           nullable, where, records);
    default:
      return refuse();
  }
  node->nullable = nullable;
  Complete(node.get());
  return node;
}

std::string TypeJson(const AvroNode& node) {
  std::string json;
  switch (node.type) {
    case AvroType::kNull:
      json = "\"null\"";
      break;
    case AvroType::kBoolean:
      json = "\"boolean\"";
      break;
    case AvroType::kInt:
      json = node.logical == AvroLogical::kDate
                 ? R"({"type":"int","logicalType":"date"})"
                 : node.logical == AvroLogical::kTimeMillis
                       ? R"({"type":"int","logicalType":"time-millis"})"
                       : "\"int\"";
      break;
    case AvroType::kLong:
      json = node.logical == AvroLogical::kTimeMicros
                 ? R"({"type":"long","logicalType":"time-micros"})"
             : node.logical == AvroLogical::kTimestampMicros
                 ? R"({"type":"long","logicalType":"timestamp-micros"})"
             : node.logical == AvroLogical::kLocalTimestampMicros
                 ? R"({"type":"long","logicalType":"local-timestamp-micros"})"
                 : "\"long\"";
      break;
    case AvroType::kFloat:
      json = "\"float\"";
      break;
    case AvroType::kDouble:
      json = "\"double\"";
      break;
    case AvroType::kBytes:
    case AvroType::kFixed:
      json = node.logical == AvroLogical::kDecimal
                 ? fmt::format(R"({{"type":"bytes","logicalType":"decimal","precision":{},)"
                               R"("scale":{}}})",
                               node.precision, node.scale)
                 : "\"bytes\"";
      break;
    case AvroType::kString:
    case AvroType::kEnum:
      json = "\"string\"";
      break;
    case AvroType::kRecord: {
      json = fmt::format(R"({{"type":"record","name":"{}","fields":[)", node.name);
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) json += ',';
        json += R"({"name":)";
        AppendJsonString(node.names[i], &json);
        json += R"(,"type":)";
        json += TypeJson(*node.children[i]);
        if (node.children[i]->nullable) json += R"(,"default":null)";
        json += '}';
      }
      json += "]}";
      break;
    }
    case AvroType::kArray:
      json = fmt::format(R"({{"type":"array","items":{}}})", TypeJson(*node.children[0]));
      break;
    case AvroType::kMap:
      json = fmt::format(R"({{"type":"map","values":{}}})", TypeJson(*node.children[0]));
      break;
  }
  if (!node.nullable) return json;
  return node.null_branch == 0 ? fmt::format("[\"null\",{}]", json)
                               : fmt::format("[{},\"null\"]", json);
}

}  // namespace

Result<std::shared_ptr<const AvroNode>> ParseSchema(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS)
    return Status::Invalid(fmt::format("the Avro schema is not JSON: {}",
                                       simdjson::error_message(error)));
  SchemaParser schema_parser;
  SLUICE_ASSIGN_OR_RAISE(NodePtr node, schema_parser.Parse(root, "", "", 0));
  if (node->type != AvroType::kRecord || node->nullable)
    return Status::Invalid("the Avro schema is not a record: Sluice reads records as rows");
  return std::shared_ptr<const AvroNode>(std::move(node));
}

std::shared_ptr<arrow::Schema> ArrowSchemaOf(const AvroNode& record) {
  return arrow::schema(record.arrow_type->fields());
}

Result<std::shared_ptr<const AvroNode>> SchemaFromArrow(const arrow::Schema& schema) {
  int records = 0;
  auto node = std::make_shared<AvroNode>();
  node->type = AvroType::kRecord;
  node->name = "sluice_row";
  for (const auto& field : schema.fields()) {
    SLUICE_ASSIGN_OR_RAISE(auto child, NodeFromArrow(*field->type(), field->nullable(),
                                                     fmt::format("'{}'", field->name()),
                                                     &records));
    node->names.push_back(field->name());
    node->children.push_back(std::move(child));
  }
  Complete(node.get());
  return std::shared_ptr<const AvroNode>(std::move(node));
}

std::string SchemaJson(const AvroNode& node) { return TypeJson(node); }

}  // namespace sluice::formats::avro
