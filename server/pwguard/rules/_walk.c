/* pwguard.rules._walk: engine.Page's index and label parts in one C pass over lxml's tree.
 *
 * An optional accelerator (setup.py builds it when a C compiler is there; engine.py works
 * without it, and tests/test_walk.py checks both give the same on every fixture and fuzz
 * page). `index(root)` reads the libxml2 tree under an lxml element, read only, holding the
 * GIL throughout, and returns what engine.Page's Python code computes from it:
 *
 *   (controls, labels, above, keys, tags) with, for each checkbox-like control in document
 *   order,
 *   - the control (an lxml element, made by lxml's public C API, elementFactory);
 *   - its label parts joined (engine.Page._joined_parts: aria-labelledby targets' text,
 *     aria-label, label[for] texts, the nearest ancestor label's text, with one space), white
 *     space collapsed (engine.collapse);
 *   - the non-empty ids of its ancestors, nearest first;
 *   - its (id, name, class) attributes (None where absent) and its tag, as lxml has them;
 *
 * or None when the page needs the Python path: a <template> or a void element libxml2
 * nested content in (Python mends those first), an element or attribute in a namespace,
 * a node type an HTML parse does not make, text that is not UTF-8.
 * Only libxml2's structs are used (from the headers lxml ships), none of its functions.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <libxml/tree.h>

/* the head of lxml.etree._Element (lxml's public etree.h: struct LxmlElement) */
typedef struct {
    PyObject_HEAD
    PyObject *doc;
    xmlNode *c_node;
    PyObject *tag;
} LxmlElement;

typedef PyObject *(*ElementFactory)(PyObject *doc, xmlNode *node);

static ElementFactory element_factory = NULL;
static PyTypeObject *element_type = NULL;

#define BAIL 1 /* the page needs the Python path */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_add(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = PyMem_Realloc(b->data, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0'; /* (white_space may look one byte past a cut character) */
    return 0;
}

static int is_named(const xmlNode *n, const char *name) {
    return n->name != NULL && strcmp((const char *)n->name, name) == 0;
}

/* the value of an attribute node: `*bail` set for one made of more than one text node (an
 * HTML parse makes one, or none for an empty value) */
static const char *value_of(const xmlAttr *a, int *bail) {
    const xmlNode *v = a->children;
    if (v == NULL) return "";
    if (v->type != XML_TEXT_NODE || v->next != NULL) {
        *bail = 1;
        return NULL;
    }
    return v->content ? (const char *)v->content : "";
}

/* An attribute's value (NULL: no such attribute); `*bail` set for an attribute in a
 * namespace (an HTML parse makes none) or a value value_of cannot read. */
static const char *attr(const xmlNode *n, const char *name, int *bail) {
    for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
        if (a->ns != NULL) {
            *bail = 1;
            return NULL;
        }
        if (a->name[0] == name[0] && strcmp((const char *)a->name, name) == 0)
            return value_of(a, bail);
    }
    return NULL;
}

/* the node after `n` in document order, leaving out what `n` holds; NULL past the end of
 * `top` (a walk of `top` alone) */
static const xmlNode *skip(const xmlNode *n, const xmlNode *top) {
    while (n != top && n->next == NULL) n = n->parent;
    return n == top ? NULL : n->next;
}

/* DOM textContent, as libxml2's xmlNodeGetContent has it (lxml's tostring method="text"):
 * the text and CDATA (script, style) of every descendant, in document order. */
static int text_content(const xmlNode *top, Buf *out) {
    const xmlNode *n = top->children;
    while (n != NULL) {
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (n->content && buf_add(out, (const char *)n->content, strlen((const char *)n->content)) < 0)
                return -1;
            break;
        case XML_ELEMENT_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default:
            return BAIL; /* (an entity reference: its text would count) */
        }
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        n = skip(n, top);
    }
    return 0;
}

static int ascii_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* the first element (pre-order from `top`, itself included) whose id is this */
static const xmlNode *by_id(const xmlNode *top, const char *id, size_t len, int *bail) {
    const xmlNode *n = top;
    while (n != NULL) {
        if (n->type == XML_ELEMENT_NODE) {
            const char *v = attr(n, "id", bail);
            if (*bail) return NULL;
            if (v != NULL && strlen(v) == len && memcmp(v, id, len) == 0) return n;
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
        }
        n = skip(n, top);
    }
    return NULL;
}

typedef struct {
    const xmlNode **items;
    size_t len, cap;
} Nodes;

static int nodes_add(Nodes *l, const xmlNode *n) {
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const xmlNode **grown = PyMem_Realloc((void *)l->items, cap * sizeof *grown);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->len++] = n;
    return 0;
}

static int ascii_ieq(const char *s, const char *lower) {
    for (; *lower; s++, lower++)
        if (*s != *lower && !(*s >= 'A' && *s <= 'Z' && *s + 32 == *lower)) return 0;
    return *s == '\0';
}

static const char *const NESTING_VOIDS[] = {"wbr", "embed", "source", "track", "keygen", NULL};

/* the checkbox-like controls and the labels with a `for` under `top`, in document order */
static int collect(const xmlNode *top, Nodes *controls, Nodes *labels) {
    const xmlNode *n = top;
    int bail = 0;
    while (n != NULL) {
        switch (n->type) {
        case XML_ELEMENT_NODE: {
            if (n->ns != NULL || is_named(n, "template")) return BAIL;
            for (const char *const *v = NESTING_VOIDS; *v; v++)
                if (n->children != NULL && is_named(n, *v)) return BAIL;
            /* role, type and for, in one pass over the attributes */
            const char *role = NULL, *type = NULL, *label_for = NULL;
            for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
                const char *name = (const char *)a->name;
                if (a->ns != NULL) return BAIL;
                if (name[0] == 'r' && strcmp(name, "role") == 0) {
                    if (role == NULL) role = value_of(a, &bail);
                } else if (name[0] == 't' && strcmp(name, "type") == 0) {
                    if (type == NULL) type = value_of(a, &bail);
                } else if (name[0] == 'f' && strcmp(name, "for") == 0) {
                    if (label_for == NULL) label_for = value_of(a, &bail);
                }
            }
            int control = role != NULL && (strcmp(role, "checkbox") == 0 || strcmp(role, "switch") == 0);
            if (!control && type != NULL && is_named(n, "input")) control = ascii_ieq(type, "checkbox");
            if (label_for != NULL && *label_for && is_named(n, "label") && nodes_add(labels, n) < 0)
                return -1;
            if (bail) return BAIL;
            if (control && nodes_add(controls, n) < 0) return -1;
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
            break;
        }
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default:
            return BAIL;
        }
        n = skip(n, top);
    }
    return 0;
}

/* the space before a part of the label text, if parts came before it (joined with one) */
static int separate(Buf *out, int *parts) {
    return (*parts)++ > 0 ? buf_add(out, " ", 1) : 0;
}

static int part(Buf *out, int *parts, const char *s, size_t n) {
    return separate(out, parts) < 0 ? -1 : buf_add(out, s, n);
}

static int text_part(Buf *out, int *parts, const xmlNode *el) {
    return separate(out, parts) < 0 ? -1 : text_content(el, out);
}

/* engine.Page._joined_parts of a control, into `out` */
static int joined_parts(const xmlNode *top, const xmlNode *el, const Nodes *labels, Buf *out) {
    int bail = 0, parts = 0, r;
    const char *id = attr(el, "id", &bail);
    const char *labelledby = attr(el, "aria-labelledby", &bail);
    const char *aria = attr(el, "aria-label", &bail);
    if (bail) return BAIL;
    const xmlNode *ancestor = NULL;
    for (const xmlNode *p = el->parent; p != NULL && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (is_named(p, "label")) {
            ancestor = p;
            break;
        }
    }
    if (labelledby != NULL && *labelledby) {
        const char *s = labelledby;
        while (*s) {
            while (*s && ascii_ws(*s)) s++;
            const char *start = s;
            while (*s && !ascii_ws(*s)) s++;
            if (s == start) break;
            const xmlNode *target = by_id(top, start, (size_t)(s - start), &bail);
            if (bail) return BAIL;
            if (target != NULL && (r = text_part(out, &parts, target)) != 0) return r;
        }
    }
    if (aria != NULL && *aria && part(out, &parts, aria, strlen(aria)) < 0) return -1;
    if (id != NULL && *id) {
        for (size_t i = 0; i < labels->len; i++) {
            const char *f = attr(labels->items[i], "for", &bail);
            if (f == NULL || strcmp(f, id) != 0) continue;
            if (labels->items[i] == ancestor) ancestor = NULL; /* (used already) */
            if ((r = text_part(out, &parts, labels->items[i])) != 0) return r;
        }
    }
    if (ancestor != NULL && (r = text_part(out, &parts, ancestor)) != 0) return r;
    return 0;
}

/* for elements with an id: (the element, the non-empty ids of it and its ancestors, nearest
 * first); the controls of a page share most of their ancestors */
typedef struct {
    const xmlNode *node;
    PyObject *ids;
} Ids;

typedef struct {
    Ids *items;
    size_t len, cap;
} IdsMemo;

static void memo_free(IdsMemo *m) {
    for (size_t i = 0; i < m->len; i++) Py_DECREF(m->items[i].ids);
    PyMem_Free(m->items);
}

/* the nearest ancestor of `el` with a non-empty id (NULL if none), its id in `*id` */
static const xmlNode *id_above(const xmlNode *el, const char **id, int *bail) {
    for (const xmlNode *p = el->parent; p != NULL && p->type == XML_ELEMENT_NODE; p = p->parent) {
        *id = attr(p, "id", bail);
        if (*bail) return NULL;
        if (*id != NULL && **id) return p;
    }
    return NULL;
}

/* the non-empty ids of the element's ancestors, nearest first (a new reference; NULL with
 * an exception, or with `*bail` set) */
static PyObject *ids_above(const xmlNode *el, IdsMemo *memo, int *bail) {
    const char *id = NULL;
    const xmlNode *a = id_above(el, &id, bail);
    if (*bail) return NULL;
    if (a == NULL) return PyTuple_New(0);
    for (size_t i = 0; i < memo->len; i++) {
        if (memo->items[i].node == a) {
            Py_INCREF(memo->items[i].ids);
            return memo->items[i].ids;
        }
    }
    PyObject *rest = ids_above(a, memo, bail);
    if (rest == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(rest);
    PyObject *ids = PyTuple_New(n + 1);
    PyObject *s = ids ? PyUnicode_DecodeUTF8(id, (Py_ssize_t)strlen(id), NULL) : NULL;
    if (s == NULL) {
        Py_XDECREF(ids);
        Py_DECREF(rest);
        return NULL;
    }
    PyTuple_SET_ITEM(ids, 0, s);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(rest, i);
        Py_INCREF(item);
        PyTuple_SET_ITEM(ids, i + 1, item);
    }
    Py_DECREF(rest);
    if (memo->len == memo->cap) {
        size_t cap = memo->cap ? memo->cap * 2 : 16;
        Ids *grown = PyMem_Realloc(memo->items, cap * sizeof *grown);
        if (grown == NULL) {
            Py_DECREF(ids);
            PyErr_NoMemory();
            return NULL;
        }
        memo->items = grown;
        memo->cap = cap;
    }
    memo->items[memo->len].node = a;
    memo->items[memo->len++].ids = ids;
    Py_INCREF(ids);
    return ids;
}

/* the length of the WHITESPACE character (engine.py, step 6) at `s` in UTF-8, else 0 */
static size_t white_space(const unsigned char *s) {
    switch (s[0]) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
        return 1;
    case 0xC2: /* U+00A0 */
        return s[1] == 0xA0 ? 2 : 0;
    case 0xE1: /* U+1680 */
        return s[1] == 0x9A && s[2] == 0x80 ? 3 : 0;
    case 0xE2: /* U+2000-U+200A, U+2028, U+2029, U+202F; U+205F */
        if (s[1] == 0x80)
            return (s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF ? 3 : 0;
        return s[1] == 0x81 && s[2] == 0x9F ? 3 : 0;
    case 0xE3: /* U+3000 */
        return s[1] == 0x80 && s[2] == 0x80 ? 3 : 0;
    case 0xEF: /* U+FEFF */
        return s[1] == 0xBB && s[2] == 0xBF ? 3 : 0;
    default:
        return 0;
    }
}

/* engine.collapse of `in` (NUL-terminated UTF-8, whose multi-byte characters white_space
 * reads whole) into `out`: runs of WHITESPACE as one space, none at either end */
static int collapse(const Buf *in, Buf *out) {
    const unsigned char *s = (const unsigned char *)in->data;
    const unsigned char *end = s + in->len;
    int space = 0;
    out->len = 0;
    while (s < end) {
        size_t n = white_space(s);
        if (n > 0) {
            space = out->len > 0;
            s += n;
            continue;
        }
        const unsigned char *start = s;
        while (s < end && white_space(s) == 0) s++;
        if (space && buf_add(out, " ", 1) < 0) return -1;
        if (buf_add(out, (const char *)start, (size_t)(s - start)) < 0) return -1;
        space = 0;
    }
    return 0;
}

/* a new str of an attribute's value, or None (a new reference; NULL with an exception) */
static PyObject *attr_str(const xmlNode *n, const char *name) {
    int bail = 0;
    const char *v = attr(n, name, &bail); /* (collect bailed out already where this would) */
    if (v == NULL) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(v, (Py_ssize_t)strlen(v), NULL);
}

/* (tag, (id, name, class)) of a control, as lxml's el.tag and el.get() give them */
static int tag_and_key(const xmlNode *el, PyObject **tag, PyObject **key) {
    static PyObject *input = NULL;
    if (input == NULL && (input = PyUnicode_InternFromString("input")) == NULL) return -1;
    if (strcmp((const char *)el->name, "input") == 0) {
        Py_INCREF(input);
        *tag = input;
    } else if ((*tag = PyUnicode_DecodeUTF8((const char *)el->name,
                                            (Py_ssize_t)strlen((const char *)el->name), NULL)) == NULL) {
        return -1;
    }
    PyObject *id = attr_str(el, "id");
    PyObject *name = id ? attr_str(el, "name") : NULL;
    PyObject *cls = name ? attr_str(el, "class") : NULL;
    *key = cls ? PyTuple_Pack(3, id, name, cls) : NULL;
    Py_XDECREF(id);
    Py_XDECREF(name);
    Py_XDECREF(cls);
    if (*key == NULL) {
        Py_CLEAR(*tag);
        return -1;
    }
    return 0;
}

#define RESULTS 5 /* controls, labels, ids above, keys, tags */

static PyObject *index_page(PyObject *self, PyObject *root) {
    (void)self;
    if (!PyObject_TypeCheck(root, element_type)) {
        PyErr_SetString(PyExc_TypeError, "index() takes an lxml element");
        return NULL;
    }
    LxmlElement *top_el = (LxmlElement *)root;
    const xmlNode *top = top_el->c_node;
    if (top == NULL || top->type != XML_ELEMENT_NODE) Py_RETURN_NONE;
    Nodes controls = {0}, labels = {0};
    Buf text = {0}, label = {0};
    IdsMemo memo = {0};
    PyObject *lists[RESULTS] = {NULL}, *result = NULL;
    int r = collect(top, &controls, &labels);
    if (r != 0) goto done;
    for (int k = 0; k < RESULTS; k++) {
        if ((lists[k] = PyList_New((Py_ssize_t)controls.len)) == NULL) {
            r = -1;
            goto done;
        }
    }
    for (size_t i = 0; i < controls.len; i++) {
        const xmlNode *el = controls.items[i];
        int bail = 0;
        text.len = 0;
        if ((r = joined_parts(top, el, &labels, &text)) != 0) goto done;
        if ((r = collapse(&text, &label)) != 0) goto done;
        PyObject *item[RESULTS] = {NULL};
        item[1] = PyUnicode_DecodeUTF8(label.data ? label.data : "", (Py_ssize_t)label.len, NULL);
        item[2] = item[1] ? ids_above(el, &memo, &bail) : NULL;
        if (item[2] != NULL && !bail && tag_and_key(el, &item[4], &item[3]) == 0)
            item[0] = element_factory(top_el->doc, (xmlNode *)el);
        if (item[0] == NULL) {
            for (int k = 1; k < RESULTS; k++) Py_XDECREF(item[k]);
            /* not UTF-8 (or an attribute in a namespace): the Python path */
            r = bail || PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) ? BAIL : -1;
            if (r == BAIL) PyErr_Clear();
            goto done;
        }
        for (int k = 0; k < RESULTS; k++) PyList_SET_ITEM(lists[k], (Py_ssize_t)i, item[k]);
    }
    result = PyTuple_Pack(RESULTS, lists[0], lists[1], lists[2], lists[3], lists[4]);
done:
    for (int k = 0; k < RESULTS; k++) Py_XDECREF(lists[k]);
    PyMem_Free((void *)controls.items);
    PyMem_Free((void *)labels.items);
    PyMem_Free(text.data);
    PyMem_Free(label.data);
    memo_free(&memo);
    if (r == BAIL) Py_RETURN_NONE;
    return result;
}

static PyMethodDef methods[] = {
    {"index", index_page, METH_O,
     "index(root) -> (controls, labels, ids above, (id, name, class) keys, tags) or None "
     "(see engine.Page)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_walk", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__walk(void) {
    PyObject *etree = PyImport_ImportModule("lxml.etree");
    if (etree == NULL) return NULL;
    PyObject *capi = PyObject_GetAttrString(etree, "__pyx_capi__");
    PyObject *type = PyObject_GetAttrString(etree, "_Element");
    Py_DECREF(etree);
    PyObject *capsule = capi ? PyDict_GetItemString(capi, "elementFactory") : NULL;
    /* the capsule's name is the C signature: a different one is an lxml this was not made for */
    const char *want = "struct LxmlElement *(struct LxmlDocument *, xmlNode *)";
    if (capsule == NULL || type == NULL || !PyType_Check(type) ||
        strcmp(PyCapsule_GetName(capsule) ? PyCapsule_GetName(capsule) : "", want) != 0) {
        Py_XDECREF(capi);
        Py_XDECREF(type);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ImportError, "lxml.etree has no usable C API");
        return NULL;
    }
    element_factory = (ElementFactory)PyCapsule_GetPointer(capsule, want);
    Py_DECREF(capi);
    if (element_factory == NULL) {
        Py_DECREF(type);
        return NULL;
    }
    element_type = (PyTypeObject *)type; /* (a reference kept for good) */
    return PyModule_Create(&module);
}
