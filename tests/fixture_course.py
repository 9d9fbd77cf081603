"""A small two-language course written into a temp folder, for tests that break or edit it."""

from __future__ import annotations

from pathlib import Path

COURSE_YML = """\
id: demo
default_language: it
languages: [it, en]
title: {it: "Corso demo", en: "Demo course"}
description: {it: "Un corso di prova.", en: "A test course."}
eqf: 3-5
pass_mark: 60
"""


def front(title: str, duration: int = 10) -> str:
    """Front matter for a module file."""
    return (
        f"---\ntitle: {title}\neqf: 3-4\nduration: {duration}\ndescription: Una frase.\n"
        "keywords: [uno, due]\noutcomes: [Distinguere A da B]\n---\n\n"
    )


IT_BODY = """\
Introduzione.

## Primo {#first}

Testo uno.

## Secondo

Testo due.

## Mettiti alla prova {#quiz}

```quiz
1. Quale canale è fisico? {#q-shop}
   - (x) Il negozio
   - ( ) Il sito web

2. Il cliente è al centro.
   - (x) Vero
   - ( ) Falso
```
"""

# A plain translation: no ids anywhere, headings and questions in other words.
EN_BODY = """\
Introduction.

## First

Text one.

## Second part

Text two.

## Test yourself

```quiz
1. Which channel is physical?
   - (x) The shop
   - ( ) The website

2. The customer is at the centre.
   - (x) True
   - ( ) False
```
"""


def write(root: Path, relative: str, text: str) -> Path:
    """Write one file below root, creating its folders."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_course(root: Path, modules: int = 3) -> Path:
    """The demo course: `modules` modules named m1, m2 ... in Italian and English."""
    write(root, "demo/course.yml", COURSE_YML)
    for n in range(1, modules + 1):
        write(root, f"demo/0{n}-m{n}/it.md", front(f"Modulo {n}") + IT_BODY)
        write(root, f"demo/0{n}-m{n}/en.md", front(f"Module {n}") + EN_BODY)
    return root
