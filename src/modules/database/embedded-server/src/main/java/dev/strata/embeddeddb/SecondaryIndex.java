package dev.strata.embeddeddb;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.h2.mvstore.MVMap;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.Constants;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.bson.Document;

/**
 * A non-unique index, stored in key order in the H2 store: a sibling of the library's
 * {@code H2UniqueIndex}, which the library leaves unimplemented for non-unique indexes
 * ({@code openOrCreateSecondaryIndex} returns an {@code EmptyIndex} there).
 *
 * <p>Each document contributes one map key per combination of its {@link IndexKeys#leaves leaf
 * values} (one per array element for an array field), followed by its position, so equal keys
 * stay distinct and the map needs no values. The library keeps using its own query path for
 * everything else; this index is consulted only by {@link StrataCollection}'s planner, which is
 * why {@link #canHandle} answers false.
 */
final class SecondaryIndex extends Index<Object> implements OrderedIndex {

    private static final Object PRESENT = Boolean.TRUE;

    private final MVMap<Object[], Object> map;
    private final List<List<String>> paths = new ArrayList<>();
    private final State state;

    SecondaryIndex(String name, List<IndexKey> keys, boolean sparse, MVMap<Object[], Object> map, State state) {
        super(name, keys, sparse);
        this.map = map;
        this.state = state;
        for (IndexKey key : keys) {
            paths.add(IndexKeys.splitPath(key.getKey()));
        }
    }

    /** The position the collection stores a document under: its _id (as the H2 collection does). */
    static Object positionOf(Document document) {
        return Missing.ofNullable(Utils.getSubdocumentValue(document, Constants.ID_FIELD));
    }

    /** The map keys of a document: the product of its leaf values per key path, each with the position. */
    private Set<Object[]> entries(Document document, Object position) {
        List<List<Object>> valuesPerKey = new ArrayList<>(paths.size());
        boolean[] arraySeen = {false};
        for (List<String> path : paths) {
            TreeSet<Object> leaves = IndexKeys.newValueSet();
            IndexKeys.leaves(document, path, 0, leaves, arraySeen);
            if (leaves.isEmpty()) {
                // an empty array: keep the document reachable for queries on the other key paths
                leaves.add(null);
            }
            valuesPerKey.add(new ArrayList<>(leaves));
        }
        if (arraySeen[0]) {
            state.markMultikey();
        }
        TreeSet<Object[]> entries = IndexKeys.newKeySet();
        Object[] current = new Object[paths.size() + 1];
        current[paths.size()] = Missing.ofNullable(position);
        product(valuesPerKey, 0, current, entries);
        return entries;
    }

    private static void product(List<List<Object>> valuesPerKey, int i, Object[] current, Set<Object[]> out) {
        if (i == valuesPerKey.size()) {
            out.add(current.clone());
            return;
        }
        for (Object value : valuesPerKey.get(i)) {
            current[i] = value;
            product(valuesPerKey, i + 1, current, out);
        }
    }

    @Override
    public Object getPosition(Document document) {
        // a non-unique key does not identify a document; the _id index answers this
        return null;
    }

    @Override
    public void checkAdd(Document document, MongoCollection<Object> collection) {
        rejectParallelArrays(document);
    }

    @Override
    public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<Object> collection) {
        rejectParallelArrays(newDocument);
    }

    private void rejectParallelArrays(Document document) {
        if (isCompoundIndex()) {
            // the library's own check (MongoDB refuses such documents as well: "cannot index parallel arrays")
            getKeyValues(document);
        }
    }

    @Override
    public void add(Document document, Object position, MongoCollection<Object> collection) {
        for (Object[] entry : entries(document, position)) {
            map.put(entry, PRESENT);
        }
    }

    @Override
    public Object remove(Document document) {
        Object position = positionOf(document);
        for (Object[] entry : entries(document, position)) {
            map.remove(entry);
        }
        return position;
    }

    @Override
    public void updateInPlace(Document oldDocument, Document newDocument, Object position, MongoCollection<Object> collection) {
        Set<Object[]> before = entries(oldDocument, position);
        Set<Object[]> after = entries(newDocument, position);
        for (Object[] entry : before) {
            if (!after.contains(entry)) {
                map.remove(entry);
            }
        }
        for (Object[] entry : after) {
            if (!before.contains(entry)) {
                map.put(entry, PRESENT);
            }
        }
    }

    @Override
    public boolean canHandle(Document query) {
        return false;
    }

    @Override
    public Iterable<Object> getPositions(Document query) {
        throw new UnsupportedOperationException("served by the collection's planner");
    }

    @Override
    public long getCount() {
        return map.sizeAsLong();
    }

    @Override
    public boolean isEmpty() {
        // while a build from the documents is pending, the library must not start its own
        return !state.needsBuild() && map.isEmpty();
    }

    @Override
    public long getDataSize() {
        return getCount();
    }

    @Override
    public void drop() {
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
        return true;
    }

    @Override
    public boolean indexesEveryDocument() {
        return true;
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
        return paths.size() + 1;
    }

    @Override
    public Object positionOf(Object[] key, Object value) {
        return key[paths.size()];
    }
}
