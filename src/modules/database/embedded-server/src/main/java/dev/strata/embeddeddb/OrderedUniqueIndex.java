package dev.strata.embeddeddb;

import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Map.Entry;

import org.h2.mvstore.MVMap;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.Document;

/**
 * A unique index, the primary key (_id) included, stored in key order. The uniqueness rules, error messages and
 * the library's own lookups are inherited unchanged from {@link AbstractUniqueIndex}; like
 * {@code H2UniqueIndex} it only supplies the storage, but its map is ordered by value
 * ({@link IndexKeys}) instead of by serialized bytes, so the planner can also use it for range
 * queries and sorted pages, e.g. the children of a folder by name.
 */
final class OrderedUniqueIndex extends AbstractUniqueIndex<Object> implements OrderedIndex {

    private final MVMap<Object[], Object> map;
    private final List<List<String>> paths = new ArrayList<>();
    private final State state;

    OrderedUniqueIndex(String name, List<IndexKey> keys, boolean sparse, MVMap<Object[], Object> map, State state) {
        super(name, keys, sparse);
        this.map = map;
        this.state = state;
        for (IndexKey key : keys) {
            paths.add(IndexKeys.splitPath(key.getKey()));
        }
    }

    private static Object[] toKey(KeyValue keyValue) {
        Object[] key = new Object[keyValue.size()];
        for (int i = 0; i < key.length; i++) {
            key[i] = IndexKeys.canonical(keyValue.get(i));
        }
        return key;
    }

    @Override
    protected Object removeDocument(KeyValue keyValue) {
        return map.remove(toKey(keyValue));
    }

    @Override
    protected boolean putKeyPosition(KeyValue keyValue, Object position) {
        return map.putIfAbsent(toKey(keyValue), Missing.ofNullable(position)) == null;
    }

    @Override
    protected Iterable<Entry<KeyValue, Object>> getIterable() {
        return () -> new Iterator<>() {
            private final Iterator<Entry<Object[], Object>> entries = map.entrySet().iterator();

            @Override
            public boolean hasNext() {
                return entries.hasNext();
            }

            @Override
            public Entry<KeyValue, Object> next() {
                Entry<Object[], Object> entry = entries.next();
                return new AbstractMap.SimpleImmutableEntry<>(new KeyValue(Arrays.asList(entry.getKey())), entry.getValue());
            }
        };
    }

    @Override
    protected Object getPosition(KeyValue keyValue) {
        return map.get(toKey(keyValue));
    }

    /**
     * The library's lookup, except that a sparse index never answers a query that can match
     * documents it leaves out (the library checks a plain null, not a null inside {@code $in}).
     */
    @Override
    public synchronized boolean canHandle(Document query) {
        if (isSparse()) {
            for (Object value : query.values()) {
                if (value == null || (value instanceof Document && mentionsNull((Document) value))) {
                    return false;
                }
            }
        }
        return super.canHandle(query);
    }

    private static boolean mentionsNull(Document operators) {
        for (Map.Entry<String, Object> entry : operators.entrySet()) {
            Object operand = entry.getValue();
            if (operand == null || (operand instanceof Collection && ((Collection<?>) operand).contains(null))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public synchronized void add(Document document, Object position, MongoCollection<Object> collection) {
        if (!state.isMultikey()) {
            for (List<String> path : paths) {
                if (IndexKeys.hasArrayOnPath(document, path)) {
                    state.markMultikey();
                    break;
                }
            }
        }
        super.add(document, position, collection);
    }

    @Override
    public long getCount() {
        return map.sizeAsLong();
    }

    @Override
    public boolean isEmpty() {
        return !state.needsBuild() && map.isEmpty();
    }

    @Override
    public long getDataSize() {
        return getCount();
    }

    @Override
    public void drop() {
        super.drop();
        state.forget();
        if (!map.isClosed()) {
            map.getStore().removeMap(map);
        }
    }

    // ---------------------------------------------------------------- OrderedIndex

    @Override
    public List<List<String>> paths() {
        return paths;
    }

    @Override
    public List<String> keyNames() {
        return keys();
    }

    @Override
    public boolean followsMatcher() {
        return false;
    }

    @Override
    public boolean indexesEveryDocument() {
        return !isSparse();
    }

    @Override
    public State state() {
        return state;
    }

    @Override
    public MVMap<Object[], Object> map() {
        return map;
    }

    @Override
    public int keyLength() {
        return paths.size();
    }

    @Override
    public Object positionOf(Object[] key, Object value) {
        return value;
    }
}
