// What DBeaver, Metabase and Tableau do through the PostgreSQL JDBC driver, for
// tests/it/pgwire/drivers.rs: connect with SCRAM, read DatabaseMetaData.getTables and
// getColumns, run a prepared statement, try statements that must stay refused, and set
// malgrupp.as_of.
// Run as a single-file source program with the driver on the class path:
//   java -cp /usr/share/java/postgresql.jar JdbcClient.java
// Connection settings come from the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD);
// MALGRUPP_KOMMUN and MALGRUPP_PERIOD name the filter. Prints one JSON object.

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcClient {
    static final String[] REFUSED = {
        "CREATE TABLE x (a int)",
        "DROP TABLE kartlaggning",
        "INSERT INTO kartlaggning (kommun) VALUES ('0880')",
        "SELECT * FROM forsorjningsstod",
    };

    static String q(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String list(List<String> items) {
        return "[" + String.join(",", items) + "]";
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/malgrupp";
        Properties props = new Properties();
        props.setProperty("user", System.getenv("PGUSER"));
        props.setProperty("password", System.getenv("PGPASSWORD"));
        props.setProperty("sslmode", "disable");
        String kommun = System.getenv("MALGRUPP_KOMMUN");
        String period = System.getenv("MALGRUPP_PERIOD");
        List<String> fields = new ArrayList<>();
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData meta = conn.getMetaData();
            fields.add("\"product\":" + q(meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion()));
            fields.add("\"driver\":" + q(meta.getDriverVersion()));

            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"})) {
                while (rs.next()) {
                    tables.add("{\"name\":" + q(rs.getString("TABLE_NAME")) + ",\"type\":" + q(rs.getString("TABLE_TYPE")) + "}");
                }
            }
            fields.add("\"tables\":" + list(tables));

            List<String> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, "public", "kartlaggning", "%")) {
                while (rs.next()) {
                    columns.add("{\"name\":" + q(rs.getString("COLUMN_NAME")) + ",\"type\":" + q(rs.getString("TYPE_NAME"))
                        + ",\"position\":" + rs.getInt("ORDINAL_POSITION") + "}");
                }
            }
            fields.add("\"columns\":" + list(columns));

            String sql = "select sum(antal) from kartlaggning where kommun = ? and period = ? and antal_skyddad = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                ps.setString(1, kommun);
                ps.setString(2, period);
                ps.setBoolean(3, false);
                // Run twice: from the fifth execution on the driver uses a named server
                // statement; the first runs are what every tool does.
                for (int i = 0; i < 2; i++) {
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        long sum = rs.getLong(1);
                        fields.add("\"sum" + i + "\":" + (rs.wasNull() ? "null" : Long.toString(sum)));
                    }
                }
            }

            List<String> refused = new ArrayList<>();
            for (String s : REFUSED) {
                try (Statement st = conn.createStatement()) {
                    st.execute(s);
                    refused.add(q(s) + ":null");
                } catch (SQLException e) {
                    refused.add(q(s) + ":" + q(e.getSQLState()));
                }
            }
            fields.add("\"refused\":{" + String.join(",", refused) + "}");

            // SET malgrupp.as_of over the extended protocol: a moment nothing kept was
            // published at fails the read after it; DEFAULT goes back to the current set.
            List<String> asOf = new ArrayList<>();
            for (String s : new String[] {
                "set malgrupp.as_of = '2000-01-01'", "select count(*) from kartlaggning",
                "set malgrupp.as_of = default", "select count(*) from kartlaggning"}) {
                try (Statement st = conn.createStatement()) {
                    if (st.execute(s)) {
                        try (ResultSet rs = st.getResultSet()) {
                            rs.next();
                            asOf.add(Long.toString(rs.getLong(1)));
                        }
                    } else {
                        asOf.add(q("ok"));
                    }
                } catch (SQLException e) {
                    asOf.add(q(e.getSQLState()));
                }
            }
            fields.add("\"as_of\":" + list(asOf));
        }
        System.out.println("{" + String.join(",", fields) + "}");
    }
}
