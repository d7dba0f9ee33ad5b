package com.redis.kafka.connect.sink;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.config.ConfigException;

/**
 * TEST DOUBLE: where and how to connect, resolved the way 0.9.1 builds its lettuce RedisURI:
 * redis.uri (redis://[[user]:password@]host[:port][/db][?database=n], rediss:// for TLS) when set,
 * else redis.host/redis.port; then redis.tls/redis.insecure switch TLS on / peer verification off,
 * a non-empty redis.password replaces the URI's password (with redis.username, if set, for ACL AUTH),
 * and redis.timeout (seconds) is the command timeout.
 */
final class RedisEndpoint {

    final String host;
    final int port;
    final int database;
    final boolean tls;
    final boolean verifyPeer;
    final String username;
    final String password;
    final long timeoutMillis;
    final String caCertFile;

    private RedisEndpoint(String host, int port, int database, boolean tls, boolean verifyPeer, String username,
            String password, long timeoutMillis, String caCertFile) {
        this.host = host;
        this.port = port;
        this.database = database;
        this.tls = tls;
        this.verifyPeer = verifyPeer;
        this.username = username;
        this.password = password;
        this.timeoutMillis = timeoutMillis;
        this.caCertFile = caCertFile;
    }

    static RedisEndpoint of(RedisSinkConfig config) {
        String uri = config.getString(RedisSinkConfigDef.URI_CONFIG);
        String host;
        int port;
        int database = 0;
        boolean tls = false;
        String username = null;
        String password = null;
        if (uri != null && !uri.isEmpty()) {
            URI u;
            try {
                u = URI.create(uri);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(RedisSinkConfigDef.URI_CONFIG, uri, e.getMessage());
            }
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase();
            switch (scheme) {
                case "redis":
                    break;
                case "rediss":
                case "redis+ssl":
                case "redis+tls":
                    tls = true;
                    break;
                default:
                    throw new ConfigException(RedisSinkConfigDef.URI_CONFIG, uri,
                            "scheme '" + scheme + "' is not modelled by the test double (redis://, rediss:// only)");
            }
            if (u.getHost() == null) {
                throw new ConfigException(RedisSinkConfigDef.URI_CONFIG, uri, "no host in URI");
            }
            host = u.getHost();
            port = u.getPort() == -1 ? 6379 : u.getPort();
            String userInfo = u.getUserInfo();
            if (userInfo != null && !userInfo.isEmpty()) {
                int colon = userInfo.indexOf(':');
                if (colon < 0) {
                    password = userInfo;
                } else {
                    username = colon == 0 ? null : userInfo.substring(0, colon);
                    password = userInfo.substring(colon + 1);
                }
            }
            String path = u.getPath();
            if (path != null && path.length() > 1) {
                database = parseDb(uri, path.substring(1));
            }
            String query = u.getRawQuery();
            if (query != null) {
                for (String pair : query.split("&")) {
                    int eq = pair.indexOf('=');
                    if (eq > 0 && pair.substring(0, eq).equalsIgnoreCase("database")) {
                        database = parseDb(uri, URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                    }
                }
            }
        } else {
            host = config.getString(RedisSinkConfigDef.HOST_CONFIG);
            port = config.getInt(RedisSinkConfigDef.PORT_CONFIG);
        }
        boolean verifyPeer = true;
        if (Boolean.TRUE.equals(config.getBoolean(RedisSinkConfigDef.TLS_CONFIG))) {
            tls = true;
            if (Boolean.TRUE.equals(config.getBoolean(RedisSinkConfigDef.INSECURE_CONFIG))) {
                verifyPeer = false;
            }
        }
        String configPassword = config.password();
        if (!configPassword.isEmpty()) {
            String configUser = config.getString(RedisSinkConfigDef.USERNAME_CONFIG);
            if (configUser != null && !configUser.isEmpty()) {
                username = configUser;
            }
            password = configPassword;
        }
        String cacert = config.getString(RedisSinkConfigDef.CACERT_CONFIG);
        return new RedisEndpoint(host, port, database, tls, verifyPeer, username, password, config.timeoutMillis(),
                cacert == null || cacert.isEmpty() ? null : cacert);
    }

    private static int parseDb(String uri, String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new ConfigException(RedisSinkConfigDef.URI_CONFIG, uri, "database must be a number");
        }
    }

    /** host:port without credentials, for messages. */
    @Override
    public String toString() {
        return (tls ? "rediss://" : "redis://") + host + ":" + port + (database != 0 ? "/" + database : "");
    }
}
