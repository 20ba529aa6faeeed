/* frames.py's fast path in C: the payload of one whole, final, masked binary frame, unmasked, or None.
 *
 * Why: a live client sends one such frame every 20 ms, and at 1,000 streams per core the Python version
 * (a method frame, two slices and the unmask) was a tenth of the gateway's per-frame budget
 * (docs/benchmarks/gateway-capacity.md). Here it is one call and one allocation, the payload unmasked straight
 * from the received bytes. frames.py keeps the Python version, the specification this one is tested against
 * (tests/unit/test_websocket_frames.py), and uses it when this file could not be built. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t max_message_bytes;
} WholeBinaryFrame;

static PyObject *
WholeBinaryFrame_payload(WholeBinaryFrame *self, PyObject *data)
{
    if (!PyBytes_Check(data))
        Py_RETURN_NONE;
    const unsigned char *wire = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (size < 6 || wire[0] != 0x82) /* FIN + binary, no RSV bits */
        Py_RETURN_NONE;
    Py_ssize_t header, length;
    if (wire[1] == 0xFE) { /* masked, 16-bit length: 126..65535 bytes (a 20 ms frame is 640) */
        header = 8;
        length = size - header;
        if (length < 126 || ((Py_ssize_t)wire[2] << 8 | wire[3]) != length)
            Py_RETURN_NONE;
    }
    else if (wire[1] > 0x80 && wire[1] < 0xFE) { /* masked, 7-bit length: 1..125 bytes */
        header = 6;
        length = size - header;
        if ((wire[1] & 0x7F) != length)
            Py_RETURN_NONE;
    }
    else {
        Py_RETURN_NONE;
    }
    if (length > self->max_message_bytes)
        Py_RETURN_NONE;
    PyObject *payload = PyBytes_FromStringAndSize(NULL, length);
    if (payload == NULL)
        return NULL;
    const unsigned char *mask = wire + header - 4;
    const unsigned char *in = wire + header;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(payload);
    uint32_t mask32;
    memcpy(&mask32, mask, 4);
    uint64_t mask64 = (uint64_t)mask32 << 32 | mask32;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) { /* the mask repeats every 4 bytes, so 8 at a time */
        uint64_t chunk;
        memcpy(&chunk, in + i, 8);
        chunk ^= mask64;
        memcpy(out + i, &chunk, 8);
    }
    for (; i < length; i++)
        out[i] = in[i] ^ mask[i & 3];
    return payload;
}

static int
WholeBinaryFrame_init(WholeBinaryFrame *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"max_message_bytes", NULL};
    Py_ssize_t max_message_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n", keywords, &max_message_bytes))
        return -1;
    if (max_message_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "max_message_bytes must not be negative");
        return -1;
    }
    self->max_message_bytes = max_message_bytes;
    return 0;
}

static PyMethodDef WholeBinaryFrame_methods[] = {
    {"payload", (PyCFunction)WholeBinaryFrame_payload, METH_O,
     "payload(data) -> the unmasked payload when data is exactly one whole, final, masked binary frame within "
     "the limit, else None."},
    {NULL},
};

static PyTypeObject WholeBinaryFrameType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "babelstream.gateway.websocket._frames.WholeBinaryFrame",
    .tp_doc = "WholeBinaryFrame(max_message_bytes): frames.py's fast path for one whole binary frame.",
    .tp_basicsize = sizeof(WholeBinaryFrame),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)WholeBinaryFrame_init,
    .tp_methods = WholeBinaryFrame_methods,
};

static struct PyModuleDef frames_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "babelstream.gateway.websocket._frames",
    .m_doc = "frames.py's fast path for one whole masked binary frame, in C.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__frames(void)
{
    if (PyType_Ready(&WholeBinaryFrameType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&frames_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "WholeBinaryFrame", (PyObject *)&WholeBinaryFrameType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
