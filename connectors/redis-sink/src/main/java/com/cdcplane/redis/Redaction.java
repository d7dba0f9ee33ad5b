package com.cdcplane.redis;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keeps Redis passwords out of every message and log line the sink produces.
 *
 * <p>A password can reach a message two ways: inside a URI's user-info ({@code redis://user:pw@host}) or
 * echoed by a library. {@link #uri} masks the user-info password of anything that looks like a URI;
 * {@link #scrub} additionally replaces each known secret (raw and percent-decoded) wherever it appears.
 */
final class Redaction {
    static final String MASK = "***";

    // scheme://user:password@  (user may be empty); the password stops at the last '@' before the host
    private static final Pattern USERINFO = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://[^:/@\\s]*:)([^\\s]*)@");

    private final List<String> secrets;

    Redaction(List<String> secrets) {
        List<String> all = new ArrayList<>();
        for (String s : secrets) {
            if (s == null || s.isEmpty()) {
                continue;
            }
            all.add(s);
            String decoded = decode(s);
            if (!decoded.equals(s)) {
                all.add(decoded);
            }
        }
        // longest first, so a secret that contains another is masked whole
        all.sort((a, b) -> b.length() - a.length());
        this.secrets = List.copyOf(all);
    }

    static Redaction none() {
        return new Redaction(List.of());
    }

    /** The URI with any user-info password replaced by {@value #MASK}; the user name stays (it is not secret). */
    static String uri(String text) {
        if (text == null) {
            return null;
        }
        Matcher m = USERINFO.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + MASK + "@"));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Masks URI passwords and every known secret in {@code text}. */
    String scrub(String text) {
        if (text == null) {
            return null;
        }
        String out = uri(text);
        for (String s : secrets) {
            out = out.replace(s, MASK);
        }
        return out;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }
}
