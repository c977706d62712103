// Creates a topic with a given number of partitions (replication factor 1) on the test broker:
//   java -cp '.deps/kafka/libs/*' tests/integration/kafka/CreateTopic.java BOOTSTRAP TOPIC PARTITIONS
// Run as a single-file source program (Java 11+), with the broker's own client library.
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

public class CreateTopic {
  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    try (Admin admin = Admin.create(properties)) {
      admin.createTopics(List.of(new NewTopic(args[1], Integer.parseInt(args[2]), (short) 1)))
          .all().get();
    }
  }
}
