"""Command lines of the stack's own JVMs (Kafka, Connect): the Maven classpath, the marker, reload4j."""

from __future__ import annotations

import shutil
from pathlib import Path

from .config import LIB, MARKER, RUN


def java(heap: str, main: str, *args: str) -> list[str]:
    exe = shutil.which("java") or "java"
    # quoted classpath wildcard: Java expands it, the shell must not (reference notes, pitfalls)
    return [
        exe,
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        MARKER,
        f"-Dlog4j.configuration=file:{log4j()}",
        "-cp",
        f"{LIB}/*",
        main,
        *args,
    ]


def log4j() -> Path:
    p = RUN / "log4j.properties"
    text = (
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.org.apache.kafka.clients=WARN\n"
        "log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN\n"
        "log4j.logger.org.reflections=ERROR\n"
        "log4j.logger.kafka.log=WARN\n"
        "log4j.logger.org.apache.kafka.storage=WARN\n"
    )
    if not p.exists() or p.read_text() != text:
        RUN.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return p
