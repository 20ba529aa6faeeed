/* The endpointer's per-frame state machine in C: python_endpointer.py's PythonEndpointer, step for step,
 * without the interpreter in between.
 *
 * Why: a live stream calls it 50 times a second, and at 1,000 streams per core the Python version's calls
 * (three Python frames and a list per frame) cost a tenth of the gateway's CPU per frame
 * (docs/benchmarks/gateway-capacity.md). Here one call classifies the frame (the detector is called through
 * vectorcall, with no Python frame of ours around it), keeps a reference to it and steps the state machine.
 *
 * python_endpointer.py stays the specification: NativeEndpointer (native_endpointer.py, this type's Python
 * subclass) validates the settings and turns them into whole frames with the same code; tests/unit/
 * test_endpointer.py runs every case on both, and a randomized test checks that they cut the same utterances
 * from the same detector decisions. When this file cannot be built (no C compiler), babelstream uses the Python
 * version. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define IDLE_TRIM_FRAMES 32   /* as python_endpointer.py: idle silence beyond the pre-roll is dropped in batches */
#define INITIAL_FRAMES 64     /* 1.28 s at 20 ms: the idle pre-roll and trim batch fit without growing */
#define MAX_DETECTOR_ARGS 8

typedef struct {
    PyObject_HEAD
    /* The detector: detect(*leading, frame, *trailing) -> truthy when the frame is speech. */
    PyObject *detect;
    PyObject *detect_args[MAX_DETECTOR_ARGS + 1]; /* [0] free for PY_VECTORCALL_ARGUMENTS_OFFSET */
    Py_ssize_t detect_nargs;
    Py_ssize_t frame_slot;
    PyObject *utterance_type; /* Utterance(pcm, start_ms, end_ms) */
    /* Settings, in whole frames (FrameCounts.of in utterance.py, for both versions). */
    Py_ssize_t frame_bytes;
    long long frame_ms;
    long long silence_frames_to_end;
    long long max_frames;
    long long pre_roll_frames;
    long long min_voiced_frames;
    long long post_roll_frames;
    /* Bytes of an incomplete frame between feeds (frame_bytes long). */
    char *pending;
    Py_ssize_t pending_len;
    /* The audio held: one bytes object per frame, frames[head .. head + count) of an array of capacity.
     * Idle: the pre-roll; in speech: the segment so far. References, not a copy: copying each frame into one
     * buffer per stream cost more (cold writes at 1,000 streams) than the Python frames it saved. */
    PyObject **frames;
    Py_ssize_t capacity;
    Py_ssize_t head;
    Py_ssize_t count;
    long long audio_start_frame; /* stream frame index of the first frame held */
    long long next_frame;        /* stream frame index of the next frame to classify */
    int in_speech;
    long long voiced_frames;
    long long last_voiced_end;   /* frame index just after the latest voiced frame */
    long long last_silent_end;   /* frame index just after the latest unvoiced frame of the segment, or -1 */
} EndpointerCore;

/* -- the audio held --------------------------------------------------------------------------------- */

static int
audio_reserve(EndpointerCore *self)
{
    /* Room for one more frame at the end: slide the held references to the front when that frees enough
     * (they are few while idle), else double the array. */
    if (self->head + self->count < self->capacity)
        return 0;
    if (self->head > 0 && self->head >= self->count) {
        memmove(self->frames, self->frames + self->head, self->count * sizeof(PyObject *));
        self->head = 0;
        return 0;
    }
    Py_ssize_t wanted = self->capacity ? 2 * self->capacity : INITIAL_FRAMES;
    if (self->head > 0) {
        memmove(self->frames, self->frames + self->head, self->count * sizeof(PyObject *));
        self->head = 0;
    }
    PyObject **grown = PyMem_Realloc(self->frames, wanted * sizeof(PyObject *));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->frames = grown;
    self->capacity = wanted;
    return 0;
}

static void
trim_front(EndpointerCore *self, long long frames)
{
    if (frames <= 0)
        return;
    if (frames > self->count)
        frames = self->count;
    for (Py_ssize_t i = 0; i < frames; i++)
        Py_DECREF(self->frames[self->head + i]);
    self->head += frames;
    self->count -= frames;
    self->audio_start_frame += frames;
    if (self->count == 0)
        self->head = 0;
}

/* -- cutting ---------------------------------------------------------------------------------------- */

static int
emit(EndpointerCore *self, long long kept_frames, PyObject **completed)
{
    if (self->voiced_frames < self->min_voiced_frames || kept_frames <= 0)
        return 0;
    long long start_ms = self->audio_start_frame * self->frame_ms;
    long long end_ms = start_ms + kept_frames * self->frame_ms;
    Py_ssize_t held = kept_frames < self->count ? (Py_ssize_t)kept_frames : self->count; /* never more: defensive */
    PyObject *pcm = PyBytes_FromStringAndSize(NULL, held * self->frame_bytes);
    if (pcm == NULL)
        return -1;
    char *joined = PyBytes_AS_STRING(pcm);
    for (Py_ssize_t i = 0; i < held; i++)
        memcpy(joined + i * self->frame_bytes, PyBytes_AS_STRING(self->frames[self->head + i]), self->frame_bytes);
    PyObject *utterance = PyObject_CallFunction(self->utterance_type, "NLL", pcm, start_ms, end_ms);
    if (utterance == NULL)
        return -1;
    if (*completed == NULL && (*completed = PyList_New(0)) == NULL) {
        Py_DECREF(utterance);
        return -1;
    }
    int failed = PyList_Append(*completed, utterance);
    Py_DECREF(utterance);
    return failed;
}

static int
close_segment(EndpointerCore *self, long long end_frame, PyObject **completed)
{
    /* Emit audio up to end_frame; what follows becomes the next pre-roll (no overlap between utterances). */
    long long kept_frames = end_frame - self->audio_start_frame;
    if (kept_frames > self->count)
        kept_frames = self->count;
    if (emit(self, kept_frames, completed) < 0)
        return -1;
    trim_front(self, kept_frames);
    trim_front(self, self->count - self->pre_roll_frames);
    self->in_speech = 0;
    return 0;
}

static int
force_cut(EndpointerCore *self, PyObject **completed)
{
    long long half_way = self->audio_start_frame + self->count / 2;
    /* Prefer a pause over a cut through a word; the frames after the pause are all voiced. */
    long long cut_frame = self->last_silent_end > half_way ? self->last_silent_end : self->next_frame;
    long long kept_frames = cut_frame - self->audio_start_frame;
    if (emit(self, kept_frames, completed) < 0)
        return -1;
    trim_front(self, kept_frames);
    long long carried_frames = self->next_frame - cut_frame;
    self->voiced_frames = carried_frames;
    if (!carried_frames) /* restart the silence clock so a speaker who stops now still gets a tail */
        self->last_voiced_end = self->next_frame;
    self->last_silent_end = -1;
    return 0;
}

/* -- one frame -------------------------------------------------------------------------------------- */

static int
step(EndpointerCore *self, PyObject *frame, PyObject **completed)
{
    self->detect_args[self->frame_slot] = frame;
    PyObject *answer = PyObject_Vectorcall(self->detect, self->detect_args + 1,
                                           self->detect_nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    self->detect_args[self->frame_slot] = NULL;
    if (answer == NULL)
        return -1;
    int voiced = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    if (voiced < 0)
        return -1;
    if (audio_reserve(self) < 0)
        return -1;
    long long index = self->next_frame++;
    self->frames[self->head + self->count++] = Py_NewRef(frame);
    if (!self->in_speech) {
        if (voiced) {
            trim_front(self, self->count - self->pre_roll_frames - 1);
            self->in_speech = 1;
            self->voiced_frames = 1;
            self->last_voiced_end = index + 1;
            self->last_silent_end = -1;
        }
        else if (self->count > self->pre_roll_frames + IDLE_TRIM_FRAMES) {
            trim_front(self, self->count - self->pre_roll_frames); /* in batches: cheaper than one by one */
        }
        return 0;
    }
    if (voiced) {
        self->voiced_frames++;
        self->last_voiced_end = index + 1;
    }
    else {
        self->last_silent_end = index + 1;
        if (index + 1 - self->last_voiced_end >= self->silence_frames_to_end)
            return close_segment(self, self->last_voiced_end + self->post_roll_frames, completed);
    }
    if (self->count >= self->max_frames)
        return force_cut(self, completed);
    return 0;
}

static int
step_copy(EndpointerCore *self, const char *data, PyObject **completed)
{
    /* A frame that is not its own bytes object (a piece of a larger chunk, or joined from pending bytes):
     * the detector gets a bytes copy of it. */
    PyObject *frame = PyBytes_FromStringAndSize(data, self->frame_bytes);
    if (frame == NULL)
        return -1;
    int failed = step(self, frame, completed);
    Py_DECREF(frame);
    return failed;
}

/* -- Python methods --------------------------------------------------------------------------------- */

static PyObject *
finish(PyObject *completed)
{
    return completed != NULL ? completed : PyList_New(0);
}

static PyObject *
EndpointerCore_feed(EndpointerCore *self, PyObject *pcm)
{
    PyObject *completed = NULL;
    if (self->pending_len == 0 && PyBytes_CheckExact(pcm) && PyBytes_GET_SIZE(pcm) == self->frame_bytes) {
        /* The commonest live case by far: one VAD frame per message. */
        if (step(self, pcm, &completed) < 0)
            goto failed;
        return finish(completed);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(pcm, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *data = view.buf;
    Py_ssize_t size = view.len;
    Py_ssize_t offset = 0;
    if (self->pending_len > 0) {
        Py_ssize_t take = self->frame_bytes - self->pending_len;
        if (take > size)
            take = size;
        memcpy(self->pending + self->pending_len, data, take);
        self->pending_len += take;
        offset = take;
        if (self->pending_len == self->frame_bytes) {
            self->pending_len = 0;
            if (step_copy(self, self->pending, &completed) < 0)
                goto failed_view;
        }
    }
    for (; size - offset >= self->frame_bytes; offset += self->frame_bytes) {
        if (step_copy(self, data + offset, &completed) < 0)
            goto failed_view;
    }
    if (offset < size) {
        memcpy(self->pending + self->pending_len, data + offset, size - offset);
        self->pending_len += size - offset;
    }
    PyBuffer_Release(&view);
    return finish(completed);
failed_view:
    PyBuffer_Release(&view);
failed:
    Py_XDECREF(completed);
    return NULL;
}

static PyObject *
EndpointerCore_flush(EndpointerCore *self, PyObject *Py_UNUSED(ignored))
{
    /* End of stream: the pending speech, if any; an incomplete trailing frame is discarded. */
    PyObject *completed = NULL;
    if (self->in_speech && close_segment(self, self->last_voiced_end + self->post_roll_frames, &completed) < 0) {
        Py_XDECREF(completed);
        return NULL;
    }
    self->pending_len = 0;
    trim_front(self, self->count);
    self->audio_start_frame = self->next_frame;
    self->in_speech = 0;
    return finish(completed);
}

static PyObject *
EndpointerCore_get_in_speech(EndpointerCore *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->in_speech);
}

static PyObject *
EndpointerCore_get_frame_ms(EndpointerCore *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(self->frame_ms);
}

/* -- construction ----------------------------------------------------------------------------------- */

static int
EndpointerCore_init(EndpointerCore *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "detect", "leading_args", "trailing_args", "utterance_type", "frame_bytes", "frame_ms",
        "silence_frames_to_end", "max_frames", "pre_roll_frames", "min_voiced_frames", "post_roll_frames", NULL,
    };
    PyObject *detect, *leading, *trailing, *utterance_type;
    Py_ssize_t frame_bytes;
    long long frame_ms, silence, max_frames, pre_roll, min_voiced, post_roll;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OO!O!OnLLLLLL", keywords, &detect, &PyTuple_Type, &leading,
                                     &PyTuple_Type, &trailing, &utterance_type, &frame_bytes, &frame_ms, &silence,
                                     &max_frames, &pre_roll, &min_voiced, &post_roll))
        return -1;
    Py_ssize_t nargs = PyTuple_GET_SIZE(leading) + 1 + PyTuple_GET_SIZE(trailing);
    if (nargs > MAX_DETECTOR_ARGS) {
        PyErr_SetString(PyExc_ValueError, "the detector takes too many arguments");
        return -1;
    }
    if (!PyCallable_Check(detect) || !PyCallable_Check(utterance_type)) {
        PyErr_SetString(PyExc_TypeError, "detect and utterance_type must be callable");
        return -1;
    }
    if (frame_bytes <= 0 || frame_ms <= 0 || silence < 1 || max_frames < 2 || pre_roll < 0 || min_voiced < 1
        || post_roll < 0) {
        PyErr_SetString(PyExc_ValueError, "endpointer settings out of range");
        return -1;
    }
    if (self->pending != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "an endpointer is initialised once");
        return -1;
    }
    self->pending = PyMem_Malloc(frame_bytes);
    if (self->pending == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(detect);
    self->detect = detect;
    Py_INCREF(utterance_type);
    self->utterance_type = utterance_type;
    Py_ssize_t slot = 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(leading); i++, slot++)
        self->detect_args[slot] = Py_NewRef(PyTuple_GET_ITEM(leading, i));
    self->frame_slot = slot++;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(trailing); i++, slot++)
        self->detect_args[slot] = Py_NewRef(PyTuple_GET_ITEM(trailing, i));
    self->detect_nargs = nargs;
    self->frame_bytes = frame_bytes;
    self->frame_ms = frame_ms;
    self->silence_frames_to_end = silence;
    self->max_frames = max_frames;
    self->pre_roll_frames = pre_roll;
    self->min_voiced_frames = min_voiced;
    self->post_roll_frames = post_roll;
    self->last_silent_end = -1;
    return 0;
}

static int
EndpointerCore_traverse(EndpointerCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->detect);
    Py_VISIT(self->utterance_type);
    for (Py_ssize_t i = 1; i <= MAX_DETECTOR_ARGS; i++)
        if (i != self->frame_slot) /* the frame slot holds a borrowed reference, during a call only */
            Py_VISIT(self->detect_args[i]);
    return 0;
}

static int
EndpointerCore_clear(EndpointerCore *self)
{
    Py_CLEAR(self->detect);
    Py_CLEAR(self->utterance_type);
    for (Py_ssize_t i = 1; i <= MAX_DETECTOR_ARGS; i++)
        if (i != self->frame_slot)
            Py_CLEAR(self->detect_args[i]);
    return 0;
}

static void
EndpointerCore_dealloc(EndpointerCore *self)
{
    PyObject_GC_UnTrack(self);
    EndpointerCore_clear(self);
    PyMem_Free(self->pending);
    if (self->frames != NULL) {
        for (Py_ssize_t i = 0; i < self->count; i++)
            Py_DECREF(self->frames[self->head + i]);
        PyMem_Free(self->frames);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef EndpointerCore_methods[] = {
    {"feed", (PyCFunction)EndpointerCore_feed, METH_O,
     "feed(pcm) -> list of the utterances completed by this PCM16 chunk (any size)."},
    {"flush", (PyCFunction)EndpointerCore_flush, METH_NOARGS,
     "flush() -> the pending speech, if any, at the end of the stream."},
    {NULL},
};

static PyGetSetDef EndpointerCore_getset[] = {
    {"in_speech", (getter)EndpointerCore_get_in_speech, NULL, "inside an utterance now", NULL},
    {"frame_ms", (getter)EndpointerCore_get_frame_ms, NULL, "the detector's frame length", NULL},
    {NULL},
};

static PyTypeObject EndpointerCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "babelstream.engines.vad._endpointer.EndpointerCore",
    .tp_doc = "The endpointer's state machine; use babelstream.engines.vad.Endpointer.",
    .tp_basicsize = sizeof(EndpointerCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)EndpointerCore_init,
    .tp_dealloc = (destructor)EndpointerCore_dealloc,
    .tp_traverse = (traverseproc)EndpointerCore_traverse,
    .tp_clear = (inquiry)EndpointerCore_clear,
    .tp_methods = EndpointerCore_methods,
    .tp_getset = EndpointerCore_getset,
};

static struct PyModuleDef endpointer_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "babelstream.engines.vad._endpointer",
    .m_doc = "The endpointer's per-frame state machine in C (see python_endpointer.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__endpointer(void)
{
    if (PyType_Ready(&EndpointerCoreType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&endpointer_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "EndpointerCore", (PyObject *)&EndpointerCoreType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
