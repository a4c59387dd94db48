// SCRAM users and ACLs on the local secured broker (kafka.sh with KAFKA_SECURITY=sasl_ssl),
// through Kafka's Admin API as the broker's admin user: the broker jars bring no kafka-configs
// or kafka-acls tool. Run by `kafka.sh users` and `kafka.sh acls` as a single-file program
// (java -cp "<broker jars>/*" KafkaAccess.java ...; needs a JDK, which Kafka needs anyway).
//
//   KafkaAccess users ADMIN_PROPERTIES   stdin: "name password" per line (created or updated)
//   KafkaAccess acls ADMIN_PROPERTIES    stdin: "principal resource-type name operation" per
//                                        line, e.g. "User:a topic orders.v1 WRITE" (allow, any
//                                        host, literal names; cluster: the name is ignored)
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAccess {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: KafkaAccess users|acls ADMIN_PROPERTIES");
        }
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[1])) {
            props.load(in);
        }
        List<String[]> rows = new ArrayList<>();
        BufferedReader stdin =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = stdin.readLine(); line != null; line = stdin.readLine()) {
            String trimmed = line.trim();
            if (!trimmed.isEmpty() && !trimmed.startsWith("#")) {
                rows.add(trimmed.split("\\s+"));
            }
        }
        try (Admin admin = Admin.create(props)) {
            switch (args[0]) {
                case "users" -> admin.alterUserScramCredentials(users(rows)).all().get();
                case "acls" -> admin.createAcls(acls(rows)).all().get();
                default -> throw new IllegalArgumentException("unknown command " + args[0]);
            }
        }
        System.err.println("KafkaAccess: " + args[0] + ": " + rows.size() + " applied");
    }

    static List<UserScramCredentialAlteration> users(List<String[]> rows) {
        List<UserScramCredentialAlteration> out = new ArrayList<>();
        ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096);
        for (String[] row : rows) {
            if (row.length != 2) {
                throw new IllegalArgumentException("users: a line is 'name password'");
            }
            out.add(new UserScramCredentialUpsertion(row[0], info, row[1]));
        }
        return out;
    }

    static List<AclBinding> acls(List<String[]> rows) {
        List<AclBinding> out = new ArrayList<>();
        for (String[] row : rows) {
            if (row.length != 4) {
                throw new IllegalArgumentException("acls: a line is 'principal type name operation'");
            }
            ResourceType type = ResourceType.fromString(row[1]);
            AclOperation operation = AclOperation.fromString(row[3]);
            if (type == ResourceType.UNKNOWN || operation == AclOperation.UNKNOWN) {
                throw new IllegalArgumentException("acls: unknown type or operation in " + String.join(" ", row));
            }
            String name = type == ResourceType.CLUSTER ? "kafka-cluster" : row[2];
            out.add(new AclBinding(
                    new ResourcePattern(type, name, PatternType.LITERAL),
                    new AccessControlEntry(row[0], "*", operation, AclPermissionType.ALLOW)));
        }
        return out;
    }
}
