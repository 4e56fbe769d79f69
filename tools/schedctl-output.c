/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedctl.h"

/* Columns are this many spaces apart, as systemctl's tables. */
#define TABLE_GAP 2

static const char *const colour_codes[] = {
        [COLOUR_NONE] = "",           [COLOUR_RED] = "\033[31m", [COLOUR_GREEN] = "\033[32m",
        [COLOUR_YELLOW] = "\033[33m", [COLOUR_BOLD] = "\033[1m",
};
#define COLOUR_RESET "\033[0m"

bool output_wants_colour(void) {
        const char *term = getenv("TERM");

        if (getenv("NO_COLOR"))
                return false;
        if (!term || strcmp(term, "dumb") == 0)
                return false;
        return isatty(STDOUT_FILENO);
}

typedef struct Cell {
        char *text;
        Colour colour;
} Cell;

struct Table {
        size_t n_columns;
        char **headers;
        bool *right;
        Cell *cells;
        size_t n_cells;
};

Table *table_new(const char *const *headers) {
        Table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        while (headers[t->n_columns])
                t->n_columns++;
        t->headers = calloc(t->n_columns, sizeof(char *));
        t->right = calloc(t->n_columns, sizeof(bool));
        if (!t->headers || !t->right)
                return table_free(t);
        for (size_t i = 0; i < t->n_columns; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        return table_free(t);
        }
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; t->headers && i < t->n_columns; i++)
                free(t->headers[i]);
        free(t->headers);
        free(t->right);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        free(t);
        return NULL;
}

void table_align_right(Table *t, size_t column) {
        if (column < t->n_columns)
                t->right[column] = true;
}

int table_add(Table *t, const char *text, Colour colour) {
        Cell *c = realloc(t->cells, (t->n_cells + 1) * sizeof(Cell));

        if (!c)
                return -ENOMEM;
        t->cells = c;
        c[t->n_cells].text = strdup(text ? text : "");
        if (!c[t->n_cells].text)
                return -ENOMEM;
        c[t->n_cells].colour = colour;
        t->n_cells++;
        return 0;
}

int table_addf(Table *t, Colour colour, const char *fmt, ...) {
        char *text;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = table_add(t, text, colour);
        free(text);
        return r;
}

size_t table_rows(const Table *t) {
        return t->n_columns ? t->n_cells / t->n_columns : 0;
}

static void print_cell(FILE *f, const char *text, Colour colour, size_t width, bool right, bool last, bool colour_on) {
        size_t len = strlen(text), pad = width > len ? width - len : 0;

        if (last && len == 0)
                return; /* no trailing blanks */
        if (right)
                fprintf(f, "%*s", (int)pad, "");
        if (colour_on && colour != COLOUR_NONE)
                fprintf(f, "%s%s%s", colour_codes[colour], text, COLOUR_RESET);
        else
                fputs(text, f);
        if (!right && !last)
                fprintf(f, "%*s", (int)pad, "");
        if (!last)
                fprintf(f, "%*s", TABLE_GAP, "");
}

void table_print(const Table *t, FILE *f, bool legend, bool colour) {
        size_t *width = calloc(t->n_columns ?: 1, sizeof(size_t));
        size_t rows = table_rows(t);

        if (!width)
                return;
        for (size_t i = 0; legend && i < t->n_columns; i++)
                width[i] = strlen(t->headers[i]);
        for (size_t i = 0; i < rows * t->n_columns; i++) {
                size_t len = strlen(t->cells[i].text), col = i % t->n_columns;

                if (len > width[col])
                        width[col] = len;
        }
        if (legend) {
                for (size_t i = 0; i < t->n_columns; i++)
                        print_cell(f, t->headers[i], COLOUR_BOLD, width[i], t->right[i], i + 1 == t->n_columns,
                                   colour);
                fputc('\n', f);
        }
        for (size_t r = 0; r < rows; r++) {
                for (size_t i = 0; i < t->n_columns; i++) {
                        const Cell *c = &t->cells[r * t->n_columns + i];

                        print_cell(f, c->text, c->colour, width[i], t->right[i], i + 1 == t->n_columns, colour);
                }
                fputc('\n', f);
        }
        free(width);
}

void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
                switch (*p) {
                        case '"':
                                fputs("\\\"", f);
                                break;
                        case '\\':
                                fputs("\\\\", f);
                                break;
                        case '\n':
                                fputs("\\n", f);
                                break;
                        case '\t':
                                fputs("\\t", f);
                                break;
                        default:
                                if (*p < 0x20)
                                        fprintf(f, "\\u%04x", *p);
                                else
                                        fputc(*p, f);
                }
        fputc('"', f);
}
