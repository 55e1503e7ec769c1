package dev.strata.embeddeddb;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import org.h2.mvstore.DataUtils;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.LegacyUUID;
import de.bwaldvogel.mongo.bson.MaxKey;
import de.bwaldvogel.mongo.bson.MinKey;
import de.bwaldvogel.mongo.bson.ObjectId;

/**
 * What an index stores for a document, in which order, and how it is written to the H2 store.
 *
 * <ul>
 * <li><b>Canonical values.</b> An index key holds the value the library's own equality
 * ({@code Utils.nullAwareEquals}) compares: numbers as doubles (or longs a double cannot hold),
 * null and missing as null. Two values match an equality query exactly when their canonical
 * forms compare equal here.</li>
 * <li><b>Order.</b> {@link #compare} is a total order: first by BSON type, in the library's
 * {@link ValueComparator} type order (MinKey, null, numbers, strings, documents, arrays, binary,
 * UUIDs, ObjectIds, booleans, dates, timestamps, regular expressions, MaxKey), then by value.
 * Within strings, ObjectIds, booleans and dates it agrees with {@code ValueComparator}, so an
 * index walk over those types yields what the library's sort yields.</li>
 * <li><b>Leaves.</b> {@link #leaves} mirrors how the library's query matcher walks a dotted path
 * (through arrays at any level, one array level at the end), so every document an equality,
 * {@code $in} or range query can match has an index entry for a matching value.</li>
 * <li><b>Storage.</b> {@link KeyType} and {@link ValueType} write keys and positions with a small
 * tagged binary format that reads back equal objects (dates keep their nanoseconds).</li>
 * </ul>
 */
final class IndexKeys {

    static final int RANK_MIN_KEY = 1;
    static final int RANK_NULL = 2;
    static final int RANK_NUMBER = 3;
    static final int RANK_STRING = 4;
    static final int RANK_DOCUMENT = 5;
    static final int RANK_ARRAY = 6;
    static final int RANK_BINARY = 7;
    static final int RANK_LEGACY_UUID = 8;
    static final int RANK_UUID = 9;
    static final int RANK_OBJECT_ID = 10;
    static final int RANK_BOOLEAN = 11;
    static final int RANK_DATE = 12;
    static final int RANK_TIMESTAMP = 13;
    static final int RANK_REGEX = 14;
    static final int RANK_MAX_KEY = 15;
    static final int RANK_OTHER = 16;

    /** Sorts before every value. */
    static final Bound MIN = new Bound(0, -1);
    /** Sorts after every value. */
    static final Bound MAX = new Bound(100, 1);

    private IndexKeys() {
    }

    /** A search bound: just below (side -1) or just above (side +1) every value of one type rank. */
    static final class Bound {
        final int rank;
        final int side;

        Bound(int rank, int side) {
            this.rank = rank;
            this.side = side;
        }

        static Bound below(int rank) {
            return new Bound(rank, -1);
        }

        static Bound above(int rank) {
            return new Bound(rank, 1);
        }

        @Override
        public String toString() {
            return (side < 0 ? "below:" : "above:") + rank;
        }
    }

    // ---------------------------------------------------------------- canonical form and order

    /** The value an index stores for a document value: what the library's equality compares. */
    static Object canonical(Object value) {
        if (Missing.isNullOrMissing(value)) {
            return null;
        }
        if (value instanceof String || value instanceof ObjectId || value instanceof Boolean || value instanceof Instant) {
            return value;
        }
        // the library's own normalisation (numbers to doubles, recursively inside documents and arrays)
        return new KeyValue(new Object[] {value}).normalized().get(0);
    }

    static int rank(Object value) {
        if (value == null || value instanceof Missing) {
            return RANK_NULL;
        } else if (value instanceof String) {
            return RANK_STRING;
        } else if (value instanceof ObjectId) {
            return RANK_OBJECT_ID;
        } else if (value instanceof Number) {
            return RANK_NUMBER;
        } else if (value instanceof Boolean) {
            return RANK_BOOLEAN;
        } else if (value instanceof Instant) {
            return RANK_DATE;
        } else if (value instanceof Document) {
            return RANK_DOCUMENT;
        } else if (value instanceof List) {
            return RANK_ARRAY;
        } else if (value instanceof MinKey) {
            return RANK_MIN_KEY;
        } else if (value instanceof MaxKey) {
            return RANK_MAX_KEY;
        } else if (value instanceof BinData) {
            return RANK_BINARY;
        } else if (value instanceof LegacyUUID) {
            return RANK_LEGACY_UUID;
        } else if (value instanceof UUID) {
            return RANK_UUID;
        } else if (value instanceof BsonTimestamp) {
            return RANK_TIMESTAMP;
        } else if (value instanceof BsonRegularExpression) {
            return RANK_REGEX;
        } else if (value instanceof Bound) {
            return ((Bound) value).rank;
        }
        return RANK_OTHER;
    }

    /** Ranks whose order here is exactly the library's sort order, so an index walk may serve a sort. */
    static boolean isWalkableRank(int rank) {
        return rank == RANK_NULL || rank == RANK_STRING || rank == RANK_OBJECT_ID || rank == RANK_BOOLEAN
            || rank == RANK_DATE;
    }

    /** A total order on canonical values (and on positions), consistent with what the codec reads back. */
    static int compare(Object a, Object b) {
        if (a == b) {
            return 0;
        }
        int ra = rank(a);
        int rb = rank(b);
        if (ra != rb) {
            return Integer.compare(ra, rb);
        }
        int sa = a instanceof Bound ? ((Bound) a).side : 0;
        int sb = b instanceof Bound ? ((Bound) b).side : 0;
        if (sa != 0 || sb != 0) {
            return Integer.compare(sa, sb);
        }
        switch (ra) {
            case RANK_NULL:
            case RANK_MIN_KEY:
            case RANK_MAX_KEY:
                return 0;
            case RANK_STRING:
                return ((String) a).compareTo((String) b);
            case RANK_OBJECT_ID:
                return ((ObjectId) a).compareTo((ObjectId) b);
            case RANK_BOOLEAN:
                return Boolean.compare((Boolean) a, (Boolean) b);
            case RANK_DATE:
                return ((Instant) a).compareTo((Instant) b);
            case RANK_NUMBER:
                return compareNumbers((Number) a, (Number) b);
            case RANK_DOCUMENT:
                return compareDocuments((Document) a, (Document) b);
            case RANK_ARRAY:
                return compareLists((List<?>) a, (List<?>) b);
            default:
                return compareOther(a, b);
        }
    }

    static int compareKeys(Object[] a, Object[] b) {
        int n = Math.min(a.length, b.length);
        for (int i = 0; i < n; i++) {
            int c = compare(a[i], b[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.length, b.length);
    }

    private static int compareNumbers(Number a, Number b) {
        int c;
        if (isIntegral(a) && isIntegral(b)) {
            c = Long.compare(a.longValue(), b.longValue());
        } else if (isFloating(a) && isFloating(b)) {
            c = Double.compare(a.doubleValue(), b.doubleValue());
        } else {
            double da = a.doubleValue();
            double db = b.doubleValue();
            if (Double.isNaN(da) || Double.isNaN(db) || Double.isInfinite(da) || Double.isInfinite(db)) {
                c = Double.compare(da, db);
            } else {
                c = new java.math.BigDecimal(a.toString()).compareTo(new java.math.BigDecimal(b.toString()));
            }
        }
        if (c != 0) {
            return c;
        }
        if (a.getClass() != b.getClass()) {
            return a.getClass().getName().compareTo(b.getClass().getName());
        }
        return a.equals(b) ? 0 : compareSerialized(a, b);
    }

    private static boolean isIntegral(Number n) {
        return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte;
    }

    private static boolean isFloating(Number n) {
        return n instanceof Double || n instanceof Float;
    }

    private static int compareDocuments(Document a, Document b) {
        Iterator<Map.Entry<String, Object>> ia = a.entrySet().iterator();
        Iterator<Map.Entry<String, Object>> ib = b.entrySet().iterator();
        while (ia.hasNext() && ib.hasNext()) {
            Map.Entry<String, Object> ea = ia.next();
            Map.Entry<String, Object> eb = ib.next();
            int c = ea.getKey().compareTo(eb.getKey());
            if (c == 0) {
                c = compare(ea.getValue(), eb.getValue());
            }
            if (c != 0) {
                return c;
            }
        }
        return Boolean.compare(ia.hasNext(), ib.hasNext());
    }

    private static int compareLists(List<?> a, List<?> b) {
        int n = Math.min(a.size(), b.size());
        for (int i = 0; i < n; i++) {
            int c = compare(a.get(i), b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.size(), b.size());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static int compareOther(Object a, Object b) {
        if (a.equals(b)) {
            return 0;
        }
        if (a.getClass() != b.getClass()) {
            return a.getClass().getName().compareTo(b.getClass().getName());
        }
        if (a instanceof Comparable) {
            int c = ((Comparable) a).compareTo(b);
            if (c != 0) {
                return c;
            }
        }
        return compareSerialized(a, b);
    }

    private static int compareSerialized(Object a, Object b) {
        return Arrays.compareUnsigned(serialize(a), serialize(b));
    }

    // ---------------------------------------------------------------- what a document contributes

    /**
     * The canonical values a query on {@code path} can match in {@code document}, following the
     * library's matcher: arrays met along the path are entered element by element (nested arrays
     * too), and an array at the end contributes its elements (flattened). A path that ends on a
     * missing field, or runs into a non-document, contributes null, as the matcher compares
     * "missing" there. An empty array contributes nothing.
     *
     * @param arraySeen set to true when an array lies on the path
     */
    static void leaves(Object value, List<String> path, int index, Set<Object> out, boolean[] arraySeen) {
        if (value instanceof List) {
            arraySeen[0] = true;
            for (Object element : (List<?>) value) {
                leaves(element, path, index, out, arraySeen);
            }
            return;
        }
        Object child = value instanceof Document ? ((Document) value).getOrMissing(path.get(index)) : Missing.getInstance();
        if (index < path.size() - 1) {
            leaves(child, path, index + 1, out, arraySeen);
        } else if (child instanceof Collection) {
            arraySeen[0] = true;
            flatten((Collection<?>) child, out);
        } else {
            out.add(canonical(child));
        }
    }

    private static void flatten(Collection<?> values, Set<Object> out) {
        for (Object element : values) {
            if (element instanceof Collection) {
                flatten((Collection<?>) element, out);
            } else {
                out.add(canonical(element));
            }
        }
    }

    /** True when an array lies anywhere on the path in this document (the index becomes "multikey"). */
    static boolean hasArrayOnPath(Document document, List<String> path) {
        Object value = document;
        for (String fragment : path) {
            if (value instanceof Collection) {
                return true;
            }
            value = value instanceof Document ? ((Document) value).getOrMissing(fragment) : Missing.getInstance();
        }
        return value instanceof Collection;
    }

    static List<String> splitPath(String key) {
        return Utils.splitPath(key);
    }

    /** A sorted set of canonical values (dedupes with the index's own equality). */
    static TreeSet<Object> newValueSet() {
        return new TreeSet<>(IndexKeys::compare);
    }

    static TreeSet<Object[]> newKeySet() {
        return new TreeSet<>(IndexKeys::compareKeys);
    }

    // ---------------------------------------------------------------- storage

    private static final byte T_NULL = 0;
    private static final byte T_MISSING = 1;
    private static final byte T_FALSE = 2;
    private static final byte T_TRUE = 3;
    private static final byte T_INT = 4;
    private static final byte T_LONG = 5;
    private static final byte T_DOUBLE = 6;
    private static final byte T_STRING = 7;
    private static final byte T_OBJECT_ID = 8;
    private static final byte T_DATE = 9;
    private static final byte T_DOCUMENT = 10;
    private static final byte T_LIST = 11;
    private static final byte T_UUID = 12;
    private static final byte T_MIN_KEY = 13;
    private static final byte T_MAX_KEY = 14;
    private static final byte T_SERIALIZED = 15;

    static void write(WriteBuffer buff, Object value) {
        if (value == null) {
            buff.put(T_NULL);
        } else if (value instanceof Missing) {
            buff.put(T_MISSING);
        } else if (value instanceof Boolean) {
            buff.put((Boolean) value ? T_TRUE : T_FALSE);
        } else if (value instanceof Integer) {
            buff.put(T_INT).putInt((Integer) value);
        } else if (value instanceof Long) {
            buff.put(T_LONG).putLong((Long) value);
        } else if (value instanceof Double) {
            buff.put(T_DOUBLE).putDouble((Double) value);
        } else if (value instanceof String) {
            String s = (String) value;
            buff.put(T_STRING).putVarInt(s.length()).putStringData(s, s.length());
        } else if (value instanceof ObjectId) {
            buff.put(T_OBJECT_ID).put(((ObjectId) value).toByteArray());
        } else if (value instanceof Instant) {
            Instant instant = (Instant) value;
            buff.put(T_DATE).putLong(instant.getEpochSecond()).putInt(instant.getNano());
        } else if (value instanceof Document) {
            Document document = (Document) value;
            buff.put(T_DOCUMENT).putVarInt(document.size());
            for (Map.Entry<String, Object> entry : document.entrySet()) {
                String key = entry.getKey();
                buff.putVarInt(key.length()).putStringData(key, key.length());
                write(buff, entry.getValue());
            }
        } else if (value instanceof List) {
            List<?> list = (List<?>) value;
            buff.put(T_LIST).putVarInt(list.size());
            for (Object element : list) {
                write(buff, element);
            }
        } else if (value instanceof UUID) {
            UUID uuid = (UUID) value;
            buff.put(T_UUID).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
        } else if (value instanceof MinKey) {
            buff.put(T_MIN_KEY);
        } else if (value instanceof MaxKey) {
            buff.put(T_MAX_KEY);
        } else {
            byte[] bytes = serialize(value);
            buff.put(T_SERIALIZED).putVarInt(bytes.length).put(bytes);
        }
    }

    static Object read(ByteBuffer buff) {
        byte tag = buff.get();
        switch (tag) {
            case T_NULL:
                return null;
            case T_MISSING:
                return Missing.getInstance();
            case T_FALSE:
                return Boolean.FALSE;
            case T_TRUE:
                return Boolean.TRUE;
            case T_INT:
                return buff.getInt();
            case T_LONG:
                return buff.getLong();
            case T_DOUBLE:
                return buff.getDouble();
            case T_STRING:
                return DataUtils.readString(buff, DataUtils.readVarInt(buff));
            case T_OBJECT_ID: {
                byte[] bytes = new byte[12];
                buff.get(bytes);
                return new ObjectId(bytes);
            }
            case T_DATE: {
                long seconds = buff.getLong();
                return Instant.ofEpochSecond(seconds, buff.getInt());
            }
            case T_DOCUMENT: {
                int n = DataUtils.readVarInt(buff);
                Document document = new Document();
                for (int i = 0; i < n; i++) {
                    String key = DataUtils.readString(buff, DataUtils.readVarInt(buff));
                    document.put(key, read(buff));
                }
                return document;
            }
            case T_LIST: {
                int n = DataUtils.readVarInt(buff);
                List<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(read(buff));
                }
                return list;
            }
            case T_UUID:
                return new UUID(buff.getLong(), buff.getLong());
            case T_MIN_KEY:
                return MinKey.getInstance();
            case T_MAX_KEY:
                return MaxKey.getInstance();
            case T_SERIALIZED: {
                byte[] bytes = new byte[DataUtils.readVarInt(buff)];
                buff.get(bytes);
                return deserialize(bytes);
            }
            default:
                throw new IllegalStateException("corrupt index entry: unknown tag " + tag);
        }
    }

    static int memory(Object value) {
        if (value instanceof String) {
            return 40 + 2 * ((String) value).length();
        } else if (value instanceof Document) {
            int size = 64;
            for (Map.Entry<String, Object> entry : ((Document) value).entrySet()) {
                size += 48 + 2 * entry.getKey().length() + memory(entry.getValue());
            }
            return size;
        } else if (value instanceof List) {
            int size = 40;
            for (Object element : (List<?>) value) {
                size += 8 + memory(element);
            }
            return size;
        } else if (value instanceof ObjectId) {
            return 48;
        }
        return 24;
    }

    private static byte[] serialize(Object value) {
        try (ByteArrayOutputStream bytes = new ByteArrayOutputStream();
             ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(value);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store index value of " + value.getClass(), e);
        }
    }

    private static Object deserialize(byte[] bytes) {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
            return in.readObject();
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException("corrupt index entry", e);
        }
    }

    /** Keys of an index map: arrays of values compared element by element. */
    static final class KeyType extends BasicDataType<Object[]> {

        static final KeyType INSTANCE = new KeyType();

        @Override
        public int compare(Object[] a, Object[] b) {
            return compareKeys(a, b);
        }

        @Override
        public int getMemory(Object[] key) {
            int size = 24;
            for (Object value : key) {
                size += 8 + memory(value);
            }
            return size;
        }

        @Override
        public void write(WriteBuffer buff, Object[] key) {
            buff.putVarInt(key.length);
            for (Object value : key) {
                IndexKeys.write(buff, value);
            }
        }

        @Override
        public Object[] read(ByteBuffer buff) {
            Object[] key = new Object[DataUtils.readVarInt(buff)];
            for (int i = 0; i < key.length; i++) {
                key[i] = IndexKeys.read(buff);
            }
            return key;
        }

        @Override
        public Object[][] createStorage(int size) {
            return new Object[size][];
        }
    }

    /** Values of an index map: a document position, or a constant for non-unique indexes. */
    static final class ValueType extends BasicDataType<Object> implements Serializable {

        private static final long serialVersionUID = 1L;

        static final ValueType INSTANCE = new ValueType();

        @Override
        public int compare(Object a, Object b) {
            return IndexKeys.compare(a, b);
        }

        @Override
        public int getMemory(Object value) {
            return memory(value);
        }

        @Override
        public void write(WriteBuffer buff, Object value) {
            IndexKeys.write(buff, value);
        }

        @Override
        public Object read(ByteBuffer buff) {
            return IndexKeys.read(buff);
        }

        @Override
        public Object[] createStorage(int size) {
            return new Object[size];
        }
    }
}
