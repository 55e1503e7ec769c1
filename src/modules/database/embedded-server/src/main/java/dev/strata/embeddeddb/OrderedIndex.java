package dev.strata.embeddeddb;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * What the query planner needs from an index kept in key order in the H2 store: its key paths,
 * its map, and whether an array was ever indexed ("multikey"). Implemented by
 * {@link SecondaryIndex} (non-unique) and {@link OrderedUniqueIndex} (unique, _id included).
 */
interface OrderedIndex {

    /** The library's name for the index map of a collection: {@code <db>.<collection>._strata_<index>}. */
    static String mapName(String fullCollectionName, String indexName) {
        return fullCollectionName + "._strata_" + indexName;
    }

    static MVMap<Object[], Object> openMap(MVStore store, String name) {
        return store.openMap(name, new MVMap.Builder<Object[], Object>()
            .keyType(IndexKeys.KeyType.INSTANCE)
            .valueType(IndexKeys.ValueType.INSTANCE));
    }

    String getName();

    /** The key paths, split at dots. */
    List<List<String>> paths();

    List<String> keyNames();

    /** Entries follow {@link IndexKeys#leaves} (true) or the library's own key extraction (false). */
    boolean followsMatcher();

    /** False for a sparse unique index, which leaves out documents that lack all its fields. */
    boolean indexesEveryDocument();

    State state();

    MVMap<Object[], Object> map();

    /** Length of the map keys: the key values, plus the position for a non-unique index. */
    int keyLength();

    /** The position (document key) an entry of the map refers to. */
    Object positionOf(Object[] key, Object value);

    /** Whether the planner may use this index at all (no numeric or positional path fragments). */
    default boolean isPlannable() {
        for (List<String> path : paths()) {
            for (String fragment : path) {
                if (fragment.isEmpty() || fragment.startsWith("$") || fragment.chars().allMatch(Character::isDigit)) {
                    return false;
                }
            }
        }
        return followsMatcher() || !state().isMultikey();
    }

    /**
     * Per-index state kept next to the collection: the multikey flag (persisted in the collection's
     * meta map, so it survives restarts), whether the map still has to be filled from the
     * documents, and a usage counter reported by {@code $indexStats}.
     */
    final class State {
        private final MVMap<String, Object> meta;
        private final String flagKey;
        private volatile boolean multikey;
        private volatile boolean needsBuild;
        private final AtomicLong accesses = new AtomicLong();

        /**
         * @param fresh      the map is new or was cleared: forget a multikey flag left from before
         * @param needsBuild the map must still be filled from the documents
         */
        State(MVMap<String, Object> meta, String indexName, boolean fresh, boolean needsBuild) {
            this.meta = meta;
            this.flagKey = "strata.multikey." + indexName;
            this.needsBuild = needsBuild;
            if (fresh) {
                meta.remove(flagKey);
            }
            this.multikey = !fresh && Boolean.TRUE.equals(meta.get(flagKey));
        }

        boolean isMultikey() {
            return multikey;
        }

        void markMultikey() {
            if (!multikey) {
                synchronized (this) {
                    if (!multikey) {
                        meta.put(flagKey, Boolean.TRUE);
                        multikey = true;
                    }
                }
            }
        }

        void finishBuild() {
            needsBuild = false;
        }

        boolean needsBuild() {
            return needsBuild;
        }

        void forget() {
            meta.remove(flagKey);
        }

        void recordAccess() {
            accesses.incrementAndGet();
        }

        long accesses() {
            return accesses.get();
        }
    }
}
