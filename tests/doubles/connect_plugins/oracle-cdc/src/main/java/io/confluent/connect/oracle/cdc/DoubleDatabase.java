package io.confluent.connect.oracle.cdc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * TEST DOUBLE: "the Oracle database" is a directory named by the environment variable
 * CDC_ORACLE_DOUBLE_DIR of the Connect worker process. Committed changes are appended by the Python
 * Oracle test double to DIR/redo.jsonl (format: tests/doubles/connect_plugins/redo.py). A missing
 * variable or directory plays the part of an unreachable database.
 */
final class DoubleDatabase {

    static final String ENV = "CDC_ORACLE_DOUBLE_DIR";
    static final String REDO_FILE = "redo.jsonl";

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
}
