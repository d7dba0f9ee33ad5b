package io.confluent.connect.oracle.cdc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigException;

/**
 * TEST DOUBLE: the connector's name templates. Literal text plus ${variable}; '\' escapes the
 * special characters \ $ { } when they are meant literally. Rendered topic names have every character
 * Kafka does not allow in a topic name replaced by '_' (C##MYUSER -> C__MYUSER).
 */
final class TopicTemplate {

    private final List<String> parts = new ArrayList<>(); // literal text or variable name
    private final List<Boolean> isVariable = new ArrayList<>();

    private TopicTemplate() {
    }

    static TopicTemplate parse(String template, List<String> allowed) {
        TopicTemplate t = new TopicTemplate();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < template.length(); i++) {
            char c = template.charAt(i);
            if (c == '\\') {
                if (i + 1 >= template.length()) {
                    throw new ConfigException("dangling escape character at the end");
                }
                literal.append(template.charAt(++i));
            } else if (c == '$') {
                if (i + 1 >= template.length() || template.charAt(i + 1) != '{') {
                    throw new ConfigException("'$' must start a ${variable} (escape it as \\$)");
                }
                int end = template.indexOf('}', i + 2);
                if (end < 0) {
                    throw new ConfigException("unterminated ${ at position " + i);
                }
                String name = template.substring(i + 2, end);
                if (!allowed.contains(name)) {
                    throw new ConfigException("unknown variable ${" + name + "}; supported: ${" + String.join("}, ${", allowed) + "}");
                }
                t.addLiteral(literal);
                t.parts.add(name);
                t.isVariable.add(true);
                i = end;
            } else if (c == '{' || c == '}') {
                throw new ConfigException("'" + c + "' must be escaped as \\" + c);
            } else {
                literal.append(c);
            }
        }
        t.addLiteral(literal);
        return t;
    }

    private void addLiteral(StringBuilder literal) {
        if (literal.length() > 0) {
            parts.add(literal.toString());
            isVariable.add(false);
            literal.setLength(0);
        }
    }

    boolean isBlank() {
        for (int i = 0; i < parts.size(); i++) {
            if (isVariable.get(i) || !parts.get(i).trim().isEmpty()) {
                return false;
            }
        }
        return true;
    }

    String render(Map<String, String> vars) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            String p = parts.get(i);
            out.append(isVariable.get(i) ? vars.getOrDefault(p, "") : p);
        }
        return out.toString();
    }

    /** Kafka topic names allow [a-zA-Z0-9._-] only: everything else becomes '_'. */
    static String sanitizeTopic(String name) {
        StringBuilder out = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                    || c == '_' || c == '-';
            out.append(ok ? c : '_');
        }
        return out.toString();
    }
}
