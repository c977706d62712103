// The peer of bench/amqp/run.sh: the fastest at-least-once relay the RabbitMQ Java client
// makes, with the same broker work as Sluice's pipeline but no decoding or filtering: consume
// from one queue with manual acknowledgements (prefetch), publish each body to another queue
// with publisher confirms (asynchronously), and acknowledge the input once its output is
// confirmed. It stands for the broker's limit on this machine.
//   java -cp 'libs/*' Relay.java URI INPUT_QUEUE OUTPUT_QUEUE MESSAGES PREFETCH
import com.rabbitmq.client.*;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

public class Relay {
  public static void main(String[] args) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(args[0]);
    String input = args[1], output = args[2];
    long messages = Long.parseLong(args[3]);
    int prefetch = Integer.parseInt(args[4]);
    try (Connection connection = factory.newConnection()) {
      Channel in = connection.createChannel();
      Channel out = connection.createChannel();
      out.confirmSelect();
      out.queueDeclare(output, true, false, false, null);
      in.basicQos(prefetch);
      CountDownLatch done = new CountDownLatch(1);
      AMQP.BasicProperties persistent = MessageProperties.PERSISTENT_BASIC;
      // Output sequence number -> the input's delivery tag; an input is acknowledged once its
      // output is confirmed.
      ConcurrentSkipListMap<Long, Long> pending = new ConcurrentSkipListMap<>();
      AtomicLong confirmed = new AtomicLong();
      out.addConfirmListener((sequence, multiple) -> {
        Map<Long, Long> settled = multiple ? pending.headMap(sequence, true)
                                           : pending.subMap(sequence, true, sequence, true);
        long last = 0;
        int count = settled.size();
        for (long tag : settled.values()) last = Math.max(last, tag);
        settled.clear();
        if (last > 0) in.basicAck(last, true);
        if (confirmed.addAndGet(count) >= messages) done.countDown();
      }, (sequence, multiple) -> {
        throw new IllegalStateException("the broker nacked message " + sequence);
      });
      long start = System.nanoTime();
      in.basicConsume(input, false, new DefaultConsumer(in) {
        long seen = 0;
        @Override
        public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties,
                                   byte[] body) throws java.io.IOException {
          if (seen++ >= messages) return;
          pending.put(out.getNextPublishSeqNo(), envelope.getDeliveryTag());
          out.basicPublish("", output, persistent, body);
        }
      });
      done.await();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("%.3f%n", seconds);
    }
  }
}
