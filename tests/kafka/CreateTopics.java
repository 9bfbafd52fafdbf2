// CreateTopics - create several Kafka topics (replication factor 1) in one JVM
// for tests/kafka/broker.sh, which compiles it into its cache folder.
// TopicCommand creates one topic per JVM start (about 1.3 s each here).
//
// Usage: java -cp 'libs/*:classes' CreateTopics BOOTSTRAP NAME PARTITIONS [NAME PARTITIONS ...]
// Exits 0 when every topic was created and is visible in the metadata,
// 1 (naming each failed topic on stderr) otherwise, 2 on bad arguments.

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;

public class CreateTopics {
    public static void main(String[] args) throws Exception {
        if (args.length < 3 || args.length % 2 == 0) {
            System.err.println("usage: CreateTopics BOOTSTRAP NAME PARTITIONS [NAME PARTITIONS ...]");
            System.exit(2);
        }
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 1; i < args.length; i += 2) {
            int parts;
            try {
                parts = Integer.parseInt(args[i + 1]);
            } catch (NumberFormatException e) {
                parts = 0;
            }
            if (parts < 1) {
                System.err.println("CreateTopics: partitions of '" + args[i] + "' must be a positive integer");
                System.exit(2);
            }
            topics.add(new NewTopic(args[i], parts, (short) 1));
        }
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        int failed = 0;
        try (Admin admin = Admin.create(p)) {
            Map<String, KafkaFuture<Void>> results = admin.createTopics(topics).values();
            Set<String> created = new HashSet<>();
            for (NewTopic t : topics) {
                try {
                    results.get(t.name()).get(30, TimeUnit.SECONDS);
                    created.add(t.name());
                } catch (ExecutionException e) {
                    System.err.println("CreateTopics: topic '" + t.name() + "': " + e.getCause());
                    failed++;
                }
            }
            // Wait until every new topic has a leader for each partition, so a
            // producer started right after this sees it at once.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!created.isEmpty()) {
                Map<String, TopicDescription> d;
                try {
                    d = admin.describeTopics(created).allTopicNames().get(10, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    d = Map.of();
                }
                for (TopicDescription td : d.values()) {
                    if (td.partitions().stream().allMatch(pi -> pi.leader() != null)) {
                        created.remove(td.name());
                    }
                }
                if (created.isEmpty()) break;
                if (System.nanoTime() > deadline) {
                    System.err.println("CreateTopics: no leader after 30 s for " + created);
                    failed += created.size();
                    break;
                }
                Thread.sleep(50);
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
