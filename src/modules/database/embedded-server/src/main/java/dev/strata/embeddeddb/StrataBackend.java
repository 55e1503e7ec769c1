package dev.strata.embeddeddb;

import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

/**
 * The H2 backend of mongo-java-server, opening {@link StrataDatabase}s, and noting in the store
 * whether it was shut down cleanly.
 *
 * <p>H2 saves its maps one after the other, so a process killed between two saves may leave a
 * document written without the matching index entry (this holds for the library's own unique
 * indexes too). The backend marks the store "open" before it opens the databases and "closed" in
 * the last commit of a clean shutdown; finding it still "open" at start means the previous process
 * died (while serving, or while filling indexes at start, whose half-filled maps H2 may have
 * saved), and every index is then rebuilt from the documents before the server accepts clients.
 */
public final class StrataBackend extends H2Backend {

    private static final Logger log = LoggerFactory.getLogger(StrataBackend.class);

    private static final String STATE_MAP = "strata-state";
    private static final String OPEN = "open";

    /** What the store said before this process marked it open, for the constructor's callbacks. */
    private static final ThreadLocal<Boolean> PREVIOUS_DIED = new ThreadLocal<>();

    /** False while the library's constructor opens the databases found in the store. */
    private boolean started;

    public StrataBackend(MVStore store) {
        super(markOpen(store));
        PREVIOUS_DIED.remove();
        started = true;
    }

    /**
     * Notes whether the previous process died while the store was open, then marks it open (and
     * commits) before any index is filled: a kill during the fill must lead to a rebuild at the
     * next start, not to a half-filled map taken for a complete one.
     */
    private static MVStore markOpen(MVStore store) {
        PREVIOUS_DIED.set(diedWhileOpen(store));
        store.<String, Object>openMap(STATE_MAP).put(OPEN, Boolean.TRUE);
        store.commit();
        return store;
    }

    /** {@code -Dstrata.rebuildIndexes=true}: rebuild every index at start, e.g. after another program wrote the store. */
    static final String REBUILD_PROPERTY = "strata.rebuildIndexes";

    @Override
    protected MongoDatabase openOrCreateDatabase(String databaseName) {
        boolean recover = false;
        if (!started) {
            if (Boolean.getBoolean(REBUILD_PROPERTY)) {
                log.warn("{} is set: rebuilding the indexes of database '{}'", REBUILD_PROPERTY, databaseName);
                recover = true;
            } else if (Boolean.TRUE.equals(PREVIOUS_DIED.get())) {
                log.warn("the previous server did not shut down cleanly: rebuilding the indexes of database '{}'", databaseName);
                recover = true;
            }
        }
        return StrataDatabase.open(databaseName, getMvStore(), getCursorRegistry(), recover);
    }

    private static boolean diedWhileOpen(MVStore store) {
        return store.hasMap(STATE_MAP) && Boolean.TRUE.equals(store.<String, Object>openMap(STATE_MAP).get(OPEN));
    }

    /** Called after the server stopped serving clients; the flag goes out with the last commit. */
    @Override
    public void close() {
        MVStore store = getMvStore();
        if (!store.isClosed()) {
            store.<String, Object>openMap(STATE_MAP).put(OPEN, Boolean.FALSE);
        }
        super.close();
    }
}
