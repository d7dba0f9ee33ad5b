package com.redis.kafka.connect.sink;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * TEST DOUBLE: a minimal RESP2 client over java.net.Socket (SSLSocketFactory for TLS). Replies are
 * String (simple string), Long (integer), byte[] (bulk string), null (nil), List (array) or
 * {@link ErrorReply}. Every I/O problem, including a failed AUTH or SELECT while connecting, surfaces
 * as IOException so the task can treat it as "Redis unreachable".
 */
final class RespClient implements Closeable {

    static final class ErrorReply {
        final String message;

        ErrorReply(String message) {
            this.message = message;
        }

        @Override
        public String toString() {
            return message;
        }
    }

    /** A handshake command (AUTH, SELECT) answered with an error: lettuce reports it as a connection failure. */
    static final class HandshakeException extends IOException {
        HandshakeException(String message) {
            super(message);
        }
    }

    private static final int CONNECT_TIMEOUT_MILLIS = 10_000; // lettuce SocketOptions default

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private RespClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
    }

    static RespClient connect(RedisEndpoint ep) throws IOException {
        Socket plain = new Socket();
        RespClient client = null;
        try {
            int timeout = (int) Math.max(1, Math.min(Integer.MAX_VALUE, ep.timeoutMillis));
            plain.connect(new InetSocketAddress(ep.host, ep.port), Math.min(CONNECT_TIMEOUT_MILLIS, timeout));
            plain.setSoTimeout(timeout);
            plain.setTcpNoDelay(true);
            Socket socket = ep.tls ? tls(plain, ep) : plain;
            client = new RespClient(socket);
            if (ep.password != null && !ep.password.isEmpty()) {
                Object reply = ep.username != null && !ep.username.isEmpty()
                        ? client.call("AUTH", ep.username, ep.password)
                        : client.call("AUTH", ep.password);
                if (reply instanceof ErrorReply) {
                    throw new HandshakeException("AUTH failed: " + reply);
                }
            }
            if (ep.database != 0) {
                Object reply = client.call("SELECT", Integer.toString(ep.database));
                if (reply instanceof ErrorReply) {
                    throw new HandshakeException("SELECT " + ep.database + " failed: " + reply);
                }
            }
            return client;
        } catch (IOException | RuntimeException e) {
            if (client != null) {
                client.close();
            } else {
                try {
                    plain.close();
                } catch (IOException ignored) {
                    // closing a socket that never connected
                }
            }
            throw e;
        }
    }

    private static Socket tls(Socket plain, RedisEndpoint ep) throws IOException {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            TrustManager[] trust = null; // JVM default trust store
            if (!ep.verifyPeer) {
                trust = new TrustManager[] { new X509TrustManager() {
                    @Override
                    public void checkClientTrusted(X509Certificate[] chain, String authType) {
                    }

                    @Override
                    public void checkServerTrusted(X509Certificate[] chain, String authType) {
                    }

                    @Override
                    public X509Certificate[] getAcceptedIssuers() {
                        return new X509Certificate[0];
                    }
                } };
            } else if (ep.caCertFile != null) {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                Collection<? extends Certificate> certs;
                try (InputStream pem = Files.newInputStream(Paths.get(ep.caCertFile))) {
                    certs = CertificateFactory.getInstance("X.509").generateCertificates(pem);
                }
                int i = 0;
                for (Certificate c : certs) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                trust = tmf.getTrustManagers();
            }
            ctx.init(null, trust, null);
            SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(plain, ep.host, ep.port, true);
            if (ep.verifyPeer) {
                SSLParameters params = ssl.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                ssl.setSSLParameters(params);
            }
            ssl.startHandshake();
            return ssl;
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS setup failed: " + e.getMessage(), e);
        }
    }

    Object call(String... args) throws IOException {
        byte[][] cmd = new byte[args.length][];
        for (int i = 0; i < args.length; i++) {
            cmd[i] = args[i].getBytes(StandardCharsets.UTF_8);
        }
        List<byte[][]> one = new ArrayList<>(1);
        one.add(cmd);
        return pipeline(one).get(0);
    }

    /** Writes every command, flushes once, then reads one reply per command. */
    List<Object> pipeline(List<byte[][]> commands) throws IOException {
        for (byte[][] cmd : commands) {
            writeCommand(cmd);
        }
        out.flush();
        List<Object> replies = new ArrayList<>(commands.size());
        for (int i = 0; i < commands.size(); i++) {
            replies.add(readReply());
        }
        return replies;
    }

    private void writeCommand(byte[][] cmd) throws IOException {
        out.write('*');
        out.write(Integer.toString(cmd.length).getBytes(StandardCharsets.US_ASCII));
        out.write('\r');
        out.write('\n');
        for (byte[] arg : cmd) {
            out.write('$');
            out.write(Integer.toString(arg.length).getBytes(StandardCharsets.US_ASCII));
            out.write('\r');
            out.write('\n');
            out.write(arg);
            out.write('\r');
            out.write('\n');
        }
    }

    private Object readReply() throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("connection closed by Redis");
        }
        String line = readLine();
        switch (type) {
            case '+':
                return line;
            case '-':
                return new ErrorReply(line);
            case ':':
                return Long.parseLong(line);
            case '$': {
                int len = Integer.parseInt(line);
                if (len < 0) {
                    return null;
                }
                byte[] data = in.readNBytes(len);
                if (data.length < len || in.read() != '\r' || in.read() != '\n') {
                    throw new EOFException("truncated bulk reply");
                }
                return data;
            }
            case '*': {
                int n = Integer.parseInt(line);
                if (n < 0) {
                    return null;
                }
                List<Object> items = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    items.add(readReply());
                }
                return items;
            }
            default:
                throw new IOException("unexpected RESP type byte '" + (char) type + "'");
        }
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(32);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("connection closed by Redis");
            }
            if (b == '\r') {
                if (in.read() != '\n') {
                    throw new IOException("malformed RESP line");
                }
                return buf.toString(StandardCharsets.UTF_8);
            }
            buf.write(b);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
