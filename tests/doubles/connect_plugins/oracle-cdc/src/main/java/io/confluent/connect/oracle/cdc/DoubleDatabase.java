package io.confluent.connect.oracle.cdc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * TEST DOUBLE: "the Oracle database" is a directory named by the environment variable
 * CDC_ORACLE_DOUBLE_DIR of the Connect worker process. Committed changes are appended by the Python
 * Oracle test double to DIR/redo.jsonl (format: tests/doubles/connect_plugins/redo.py). A missing
 * variable or directory plays the part of an unreachable database. The oldest redo a database still
 * holds (its archived logs purged as RMAN would) is DIR/archived-logs.DATABASE.json, written by the Python
 * double: {"database": .., "horizon_scn": n}; no file = every log since the database began.
 */
final class DoubleDatabase {

    static final String ENV = "CDC_ORACLE_DOUBLE_DIR";
    static final String REDO_FILE = "redo.jsonl";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private DoubleDatabase() {
    }

    /** null when the database is reachable, else why not (phrased like the connector's connectivity check). */
    static String unreachable(String where) {
        String dir = System.getenv(ENV);
        if (dir == null || dir.trim().isEmpty()) {
            return "Unable to connect to Oracle at " + where + ": no database (test double: " + ENV
                    + " is not set in the Connect worker's environment)";
        }
        if (!Files.isDirectory(Paths.get(dir))) {
            return "Unable to connect to Oracle at " + where + ": no database (test double: " + ENV + "=" + dir
                    + " is not a directory)";
        }
        return null;
    }

    /** The redo file, or null when the database is unreachable. */
    static Path redoFile() {
        String dir = System.getenv(ENV);
        if (dir == null || dir.trim().isEmpty() || !Files.isDirectory(Paths.get(dir))) {
            return null;
        }
        return Paths.get(dir).resolve(REDO_FILE);
    }

    /** The oldest SCN the database can still mine from, or null when no log was purged (or unreadable). */
    static Long redoHorizon(String database) {
        Path file = redoFile();
        if (file == null || database == null) {
            return null;
        }
        Path horizon = file.getParent().resolve("archived-logs." + database.toUpperCase() + ".json");
        if (!Files.isRegularFile(horizon)) {
            return null;
        }
        try {
            JsonNode n = MAPPER.readTree(horizon.toFile()).get("horizon_scn");
            return n != null && n.canConvertToLong() ? n.asLong() : null;
        } catch (IOException e) {
            return null;
        }
    }
}
